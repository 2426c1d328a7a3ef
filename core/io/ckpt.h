/*
 * ckpt.h - integers in the float tensors of a training checkpoint.
 *
 * A checkpoint (train/train.h) is a model file of float tensors; the
 * counters, generator states and task integers in it are kept exactly as
 * 16-bit pieces, each an integer below 2^16 and so exact in a float.  The
 * families pack their trajectories with it and the trainer its counters,
 * so it sits below both.
 *
 * Owns nothing, never allocates; pure functions of their arguments, safe
 * from any thread on buffers that are not shared.
 */
#ifndef CKPT_H
#define CKPT_H

#include <stdint.h>

/* Floats one 64-bit integer takes in a checkpoint tensor. */
#define CKPT_U64_FLOATS 4

/* Writes v into f[0..3] as four 16-bit pieces, least significant first. */
void ckpt_put_u64(float *f, uint64_t v);

/* Reads back what ckpt_put_u64 wrote.  Returns 0 and sets *v, or -1
 * (leaving *v alone) if a piece is not an integer in [0, 65535] (NaN
 * included): a damaged checkpoint, never a silent wrong value. */
int ckpt_get_u64(const float *f, uint64_t *v);

#endif
