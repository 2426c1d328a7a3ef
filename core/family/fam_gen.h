/*
 * fam_gen.h - the set-refiner families (family/gen.h: classification,
 * regression, mixtures, flows) as one table.
 *
 * Training loss: every state is scored on `nq` fresh query rows of its
 * trajectory's task: the mean negative log-likelihood (mixtures: reported
 * as the excess over the true mixture's NLL on the same rows; classifiers:
 * the cross-entropy), the mean flow-matching loss (flows; trains the
 * velocity network jointly) or half the squared error (regression).  An
 * implicit state is scored on its trajectory's own query rows, fixed when
 * its task is drawn.  The learned initial state takes the same loss on the
 * queries of every trajectory that starts from it (start_loss).  A pass's
 * batch-loss noise is drawn per pass (pass_begin).
 *
 * One table for all four kinds: they share one model (struct gen, which
 * dispatches on its kind inside gen.c), one configuration and one
 * trajectory; per-kind tables come with gen.c's split.
 *
 * Also the family's training configuration, struct gentrain_config, under
 * the name the recipes and model headers (model/) use.  A model object
 * (struct fam_gen_model) owns nothing and borrows the task source's fonts
 * and images; see family.h for the rest.
 */
#ifndef FAM_GEN_H
#define FAM_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "family/amz.h"
#include "family/family.h"
#include "data/source.h"
#include "family/gen.h"

#define GENTRAIN_SHARDS_MAX FAMILY_SHARDS_MAX

struct gentrain_config {
	struct gen_config gen;
	struct source tasks;		/* fonts borrowed for LETTERS */
	int pop, chunk, nq;
	long iters;
	float lr, lr_min;
	int warmup;
	float clip, weight_decay;
	float full_batch;		/* probability a batch has bmax rows */
	int task_batch;			/* 0: every mini-batch draws its size;
					 * 1: a task's first one does and the
					 * rest of its stream keeps it, as a
					 * client streaming fixed-size
					 * mini-batches does */
	int step_weight;		/* 0: every state's loss weighs the
					 * same (greedy, the paper's); 1: the
					 * state after step t (1-based) weighs
					 * t, scaled to a mean of 1 over the
					 * population */
	uint64_t seed;
	int shards;
};

/* A model of the family, as fam_gen.init fills it (family.h). */
struct fam_gen_model {
	struct gentrain_config cfg;
	struct gen g;
};

/*
 * The tables (family.h); a training configuration is a gentrain_config,
 * and so is what fam_*.open takes from a model file (its gen and tasks).
 * fam_gen holds the training entries alone; the kinds' tables hold them
 * and their sessions: fam_clf (classification: parametric, explicit or
 * implicit), fam_reg (regression: explicit or implicit), fam_mog
 * (mixtures: exact density and sampling), fam_flow (flows: sampling).
 */
extern const struct family_ops fam_gen;
extern const struct family_ops fam_clf;
extern const struct family_ops fam_reg;
extern const struct family_ops fam_mog;
extern const struct family_ops fam_flow;

/* ---- for the kinds' tables (fam_clf.c, fam_reg.c, fam_mog.c,
 * fam_flow.c): the shared entries, with family.h's contracts ---- */

int fam_gen_init(void *m, struct layout *params, const void *cfg,
		 struct family_train *tc, char *err, size_t errlen);
void fam_gen_init_params(const void *m, float *p, struct rng *r);
void fam_gen_initial_state(const void *m, const float *p, float *state);
void *fam_gen_ws_init(const void *m, int max_seq, int max_rows);
void fam_gen_ws_free(void *ws);
void fam_gen_input(const void *m, void *ws, int i,
		   const struct family_traj *tr);
int fam_gen_forward(const void *m, const float *p, void *ws, int ns,
		    float *next);
void fam_gen_backward(const void *m, const float *p, float *dp, void *ws,
		      const float *dnext);
double fam_gen_state_loss(const void *m, const float *p, float *dp, void *ws,
			  struct family_traj *tr, const float *state, float w,
			  float *dstate);
void fam_gen_start_loss(const void *m, const float *p, float *dp, void *ws,
			struct family_traj *tr, float w);
void *fam_gen_traj_alloc(const void *m);
void fam_gen_task_draw(const void *m, const float *p, struct family_traj *tr);
void fam_gen_task_rows(const void *m, struct family_traj *tr);
void fam_gen_pass_begin(const void *m, struct family_traj *tr);
size_t fam_gen_task_floats(const void *m);
void fam_gen_task_pack(const void *m, const struct family_traj *tr, float *f);
int fam_gen_task_unpack(const void *m, struct family_traj *tr, const float *f);
int fam_gen_open(void *m, struct layout *params, const void *cfg);

/* The training entries in a table's initializer. */
#define FAM_GEN_TRAINING						\
	.size = sizeof(struct fam_gen_model),				\
	.init = fam_gen_init,						\
	.init_params = fam_gen_init_params,				\
	.initial_state = fam_gen_initial_state,				\
	.ws_init = fam_gen_ws_init,					\
	.ws_free = fam_gen_ws_free,					\
	.input = fam_gen_input,						\
	.forward = fam_gen_forward,					\
	.backward = fam_gen_backward,					\
	.state_loss = fam_gen_state_loss,				\
	.start_loss = fam_gen_start_loss,				\
	.traj_alloc = fam_gen_traj_alloc,				\
	.task_draw = fam_gen_task_draw,					\
	.task_rows = fam_gen_task_rows,					\
	.pass_begin = fam_gen_pass_begin,				\
	.task_floats = fam_gen_task_floats,				\
	.task_pack = fam_gen_task_pack,					\
	.task_unpack = fam_gen_task_unpack

/* The set refiner of a bound amz's model object. */
static inline const struct gen *fam_gen_of(const struct amz *a)
{
	return &((const struct fam_gen_model *)a->m)->g;
}

/* The session entries the four kinds share, in a table's initializer. */
#define FAM_GEN_SESSION							\
	.open = fam_gen_open,						\
	.session_ws = fam_gen_session_ws,				\
	.session_ws_free = fam_gen_session_ws_free

/* The sessions' shared parts.  fam_gen_bind fills a's sizes, regime and
 * a->ops = ops, a->m = m (a kind's bind sets its capabilities after);
 * session_ws, session_ws_free and session_start are the entries of
 * family.h (start: the learned initial state, none when implicit);
 * fam_gen_step_rows is the step of the kinds whose rows are x alone
 * (mixtures, flows) and fam_gen_sample their sampler.
 * fam_gen_implicit_step is a step of the implicit regime, whose session
 * keeps no adapted state: the losses are 0 and the answer AM_OK.
 * fam_gen_finite: 1 when n floats are all finite. */
void fam_gen_bind(const void *m, struct amz *a, const struct family_ops *ops);
void *fam_gen_session_ws(const struct amz *a);
void fam_gen_session_ws_free(void *ws);
void fam_gen_session_start(const struct amz *a, float *state);
int fam_gen_step_rows(const struct amz *a, void *ws, float *state,
		      const float *X, const float *y, int B, int D,
		      double rows_seen, float *loss_before, float *loss_after);
int fam_gen_sample(const struct amz *a, void *ws, const float *state, int D,
		   int n, struct rng *r, float *out);
int fam_gen_implicit_step(float *loss_before, float *loss_after);
int fam_gen_finite(const float *v, int n);

/* Fills the defaults of a kind's recipe (width 64, 4 layers, 4 heads,
 * batch 32, K 16, population 128, its usual task source). */
void gentrain_config_default(struct gentrain_config *c, enum gen_kind kind);

/* Checks a configuration; AM_OK or AM_EINVAL with a message in err (may
 * be NULL).  Thread-safe. */
int gentrain_config_check(const struct gentrain_config *c, char *err, size_t errlen);

#endif
