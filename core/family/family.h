/*
 * family.h - what every amortizer family provides to the shared machinery.
 *
 * A family is a const struct family_ops; a capability is a non-NULL entry.
 * The one population trainer (train/train.h) calls through the table and
 * never switches on the family, so what differs between families (the
 * model, its tasks, its loss, its trajectory's checkpoint form) lives in
 * the family's file (fam_linreg.c, fam_gen.c) and nowhere else.
 *
 * The table owns nothing.  A model object m is the caller's memory of
 * `size` bytes that init fills; it owns no floats (its parameters are views
 * in the caller's layout) and nothing to free.  Workspaces (ws_init) and a
 * trajectory's family part (traj_alloc) are owned by the caller.  Every
 * entry is safe from several threads at once on distinct workspaces and
 * distinct trajectories.  Never prints; allocates only in ws_init,
 * traj_alloc and (init) the caller's layout.
 */
#ifndef FAMILY_H
#define FAMILY_H

#include <stddef.h>
#include <stdint.h>

#include "base/layout.h"
#include "base/rng.h"

struct amz;

/* Shards a training iteration may be split in (the recipes fix it). */
#define FAMILY_SHARDS_MAX 8

/*
 * What the trainer reads of a family's training configuration: the
 * population schedule and the optimizer's settings, which every family's
 * configuration carries, plus the sizes of its model.  init fills it.
 */
struct family_train {
	int nstate;			/* floats in a state */
	int bmax, ksteps, passes;	/* rows per batch, steps, passes */
	int pop, chunk, shards;		/* trajectories, per forward, shards */
	long iters;
	float lr, lr_min;		/* peak and final learning rate */
	int warmup;
	float clip, weight_decay;
	float full_batch;		/* chance a batch has bmax rows */
	int task_batch;			/* 1: a task keeps its first batch size */
	int step_weight;		/* 1: the state after step t weighs t */
	uint64_t seed;
};

/*
 * Copies into tc (struct family_train *) the schedule fields that every
 * family's training configuration c names alike: pop, chunk, shards,
 * iters, lr, lr_min, warmup, clip, weight_decay, full_batch, seed.  A
 * macro because the configurations are distinct types whose layout model/
 * owns; each family's init uses it and fills the rest.
 */
#define FAMILY_TRAIN_SCHEDULE(tc, c) do {				\
		(tc)->pop = (c)->pop;					\
		(tc)->chunk = (c)->chunk;				\
		(tc)->shards = (c)->shards;				\
		(tc)->iters = (c)->iters;				\
		(tc)->lr = (c)->lr;					\
		(tc)->lr_min = (c)->lr_min;				\
		(tc)->warmup = (c)->warmup;				\
		(tc)->clip = (c)->clip;					\
		(tc)->weight_decay = (c)->weight_decay;			\
		(tc)->full_batch = (c)->full_batch;			\
		(tc)->seed = (c)->seed;					\
	} while (0)

/*
 * Checks the schedule fields of t (those FAMILY_TRAIN_SCHEDULE copies):
 * population, chunk, iterations, rates, warmup, clip, decay, full_batch,
 * shards.  AM_OK, or AM_EINVAL with a message in err (may be NULL).  Each
 * family's configuration check calls it, so the rule is one for all.
 */
int family_schedule_check(const struct family_train *t, char *err,
			  size_t errlen);

/*
 * One trajectory in flight: a task, the state refined on it so far and
 * where it is in its stream.  The trainer owns it and updates the
 * counters; the family fills the state and its part x (task, current
 * mini-batch, query rows: traj_alloc) and draws from rng.
 */
struct family_traj {
	struct rng rng;
	float *state;			/* nstate floats */
	int B, step, pass;		/* batch rows, steps taken, pass */
	double rows;			/* rows seen before the current batch */
	void *x;			/* the family's part */
};

struct family_ops {
	const char *name;
	size_t size;			/* bytes of a model object */

	/* ---- the model: parameters are views in the caller's layout ---- */

	/* Checks the family's training configuration cfg, registers the
	 * parameters in params and fills m and tc.  AM_OK, AM_EINVAL or
	 * AM_ENOMEM, with a message in err (may be NULL). */
	int (*init)(void *m, struct layout *params, const void *cfg,
		    struct family_train *tc, char *err, size_t errlen);
	/* Initialises every parameter, drawing from r. */
	void (*init_params)(const void *m, float *p, struct rng *r);
	/* The learned initial state (nstate floats). */
	void (*initial_state)(const void *m, const float *p, float *state);
	/* Scratch for passes of up to max_seq sequences of up to max_rows
	 * rows: NULL when out of memory.  ws_free is NULL-safe. */
	void *(*ws_init)(const void *m, int max_seq, int max_rows);
	void (*ws_free)(void *ws);

	/* ---- one refinement pass and its backward (greedy training) ---- */

	/* Makes trajectory tr the input of sequence i of the next pass. */
	void (*input)(const void *m, void *ws, int i,
		      const struct family_traj *tr);
	/* One pass of ns sequences: next (ns x nstate).  AM_OK or
	 * AM_ENUMERIC. */
	int (*forward)(const void *m, const float *p, void *ws, int ns,
		       float *next);
	/* Accumulates into dp the gradient of a loss whose gradient with
	 * respect to the last forward's next states is dnext. */
	void (*backward)(const void *m, const float *p, float *dp, void *ws,
			 const float *dnext);
	/* The training loss of tr's next state, scaled by w: dstate (nstate)
	 * is overwritten with w * dloss/dstate and dp accumulates the
	 * parameters' direct part.  Returns the unscaled loss (reported). */
	double (*state_loss)(const void *m, const float *p, float *dp,
			     void *ws, struct family_traj *tr,
			     const float *state, float w, float *dstate);
	/* The learned initial state's gradient, one of the two (NULL: not
	 * this way).  start_loss: in the shard, for a trajectory starting
	 * from it (step 0, pass 0), weight w.  init_loss: after the shards,
	 * on every trajectory of the population pop (n), weight w each. */
	void (*start_loss)(const void *m, const float *p, float *dp, void *ws,
			   struct family_traj *tr, float w);
	void (*init_loss)(const void *m, const float *p, float *dp,
			  const struct family_traj *pop, int n, float w);

	/* ---- tasks: drawing, rows, the checkpoint form of a trajectory ---- */

	/* Allocates a trajectory's family part (one block, freed with
	 * free()); NULL when out of memory. */
	void *(*traj_alloc)(const void *m);
	/* Puts tr on a fresh task from its rng and sets its starting state. */
	void (*task_draw)(const void *m, const float *p, struct family_traj *tr);
	/* Draws tr's next mini-batch of tr->B rows. */
	void (*task_rows)(const void *m, struct family_traj *tr);
	/* At the start of each pass (NULL: nothing): draws per-pass noise. */
	void (*pass_begin)(const void *m, struct family_traj *tr);
	/* A trajectory as task_floats floats in a checkpoint; task_unpack
	 * returns 0, or -1 for a corrupt one (tr then partly written). */
	size_t (*task_floats)(const void *m);
	void (*task_pack)(const void *m, const struct family_traj *tr, float *f);
	int (*task_unpack)(const void *m, struct family_traj *tr,
			   const float *f);

	/* ---- a model read from a file, and its sessions (family/amz.h) ----
	 *
	 * amz_* check what every family shares (sizes, B, D, n) and call
	 * these with the struct amz that bind filled; a->m is the model
	 * object.  Labels and targets are the family's to check.  A NULL
	 * entry is "this family cannot": amz answers AM_EINVAL. */

	/* Fills m from the configuration cfg of a model file (the part of a
	 * training configuration a model header holds; training settings
	 * are not checked) and registers its parameters in params.  AM_OK or
	 * AM_ENOMEM. */
	int (*open)(void *m, struct layout *params, const void *cfg);
	/* Fills a's sizes and capability flags and a->ops, a->m from m. */
	void (*bind)(const void *m, struct amz *a);
	/* One thread's scratch for session calls; NULL when out of memory.
	 * session_ws_free is NULL-safe. */
	void *(*session_ws)(const struct amz *a);
	void (*session_ws_free)(void *ws);
	/* The state of a new session (a->nstate floats, zeroed before). */
	void (*session_start)(const struct amz *a, float *state);
	/* amz_step, amz_predict, amz_predict_probs, amz_log_density,
	 * amz_sample (from r), amz_query_init/step/probs/mean/loss, with the
	 * contracts of amz.h. */
	int (*step)(const struct amz *a, void *ws, float *state, const float *X,
		    const float *y, int B, int D, double rows_seen,
		    float *loss_before, float *loss_after);
	int (*predict_mean)(const struct amz *a, const float *state,
			    const float *X, int n, int D, float *mean,
			    float *var);
	int (*predict_probs)(const struct amz *a, const float *state,
			     const float *X, int n, int D, float *probs);
	int (*log_density)(const struct amz *a, const float *state,
			   const float *X, int n, int D, float *out);
	int (*sample)(const struct amz *a, void *ws, const float *state, int D,
		      int n, struct rng *r, float *out);
	int (*query_init)(const struct amz *a, const float *state, int n,
			  float *qs);
	int (*query_step)(const struct amz *a, void *ws, const float *state,
			  const float *Q, int n, float *qs, const float *X,
			  const float *y, int B, int D, double rows_seen);
	int (*query_probs)(const struct amz *a, const float *state,
			   const float *qs, int n, float *probs);
	int (*query_mean)(const struct amz *a, const float *state,
			  const float *qs, int n, float *mean);
	float (*query_loss)(const struct amz *a, const float *state,
			    const float *qs, const float *y, int n);
};

#endif
