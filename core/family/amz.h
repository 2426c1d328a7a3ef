/*
 * amz.h - one amortizer of any family, as a session uses it.
 *
 * The daemon and `amort adapt` do not care which regime or family a model
 * is: they open a state, feed it mini-batches, and ask for predictions,
 * densities or samples.  struct amz is that contract; a family's `bind`
 * (family.h) fills it, and every call here checks the sizes and goes to
 * the family's entry, so what a family cannot do (a NULL entry) answers
 * AM_EINVAL.  It borrows the family's model object and parameters, so it
 * is cheap to copy and is valid as long as the loaded model is.
 *
 * Rows are always zero-padded to the model's dmax floats (row stride
 * dmax); D (1..dmax) is the number of active columns.  A state is nstate
 * floats (<= AMZ_STATE_MAX).  What each family answers:
 *
 *   family   rows        predict                 sample
 *   linreg   x and y     mean and variance       no
 *   clf      x, label    class probabilities     no
 *   mog      x only      log-density             exact
 *   flow     x only      no                      integrates the flow
 *
 *   reg      x and y     mean                    no
 *
 * A classification state ends with one extra float (its last, index
 * nstate - 1): the session's number of classes K (2..classes), set at creation (amz_set_classes); labels are
 * integers in [0, K).  An image model also takes rows of npix raw pixels
 * (0..255), which amz_project maps to its dmax PCA features.
 *
 * Thread safety: a struct amz and its parameters are read-only and may be
 * shared; a struct amz_ws is one thread's scratch memory.
 */
#ifndef AMZ_H
#define AMZ_H

#include <stdint.h>

#define AMZ_STATE_MAX 1024	/* floats in the largest session state */
#define AMZ_DMAX 64		/* the largest row width of any family */
#define AMZ_CLASSES_MAX 10	/* classes of a classification model */
#define AMZ_NPIX_MAX 4096	/* pixels of an image model's raw rows */
#define AMZ_SAMPLE_MAX 100000	/* samples in one amz_sample call */

struct family_ops;

struct amz {
	const struct family_ops *ops;	/* the family (family.h): its name,
					 * and what a NULL entry cannot */
	const void *m;		/* the family's model object (borrowed) */
	const float *p;		/* its parameters (borrowed) */
	int nstate;		/* floats in a state */
	int dmax;		/* row width: active columns are 0..D-1 */
	int bmax;		/* rows per mini-batch */
	int bmax_soft;		/* 1: a step may take more than bmax rows
				 * (a caller may raise bmax; the family's
				 * own limit still holds) */
	int has_y;		/* rows carry a target (regression) */
	int has_mean;		/* predict answers mean and variance */
	int has_density;	/* predict answers log-density */
	int can_sample;		/* sample is answered */
	int has_labels;		/* rows carry a class label (clf) */
	int classes;		/* clf: the most classes a session may have */
	int npix;		/* image models: raw pixels per row, else 0 */
	int standardize;	/* sessions standardize x by default */
	const void *pca;	/* image models: struct pca (borrowed) */
	int flow_steps;		/* integration steps of a flow's sampler */
	int has_var;		/* predict answers a variance with the mean */
	int implicit;		/* implicit regime: see "Implicit models" */
	int qstate;		/* implicit: floats in one query's state */
};

struct amz_ws;

/* The family's name: "linreg", "clf", "reg", "mog", "flow". */
const char *amz_name(const struct amz *a);

/* Scratch memory for one thread; NULL when out of memory.  Free with
 * amz_ws_free (NULL-safe). */
struct amz_ws *amz_ws_new(const struct amz *a);
void amz_ws_free(struct amz_ws *ws);

/* The learned initial state (nstate floats). */
void amz_initial_state(const struct amz *a, float *state);

/*
 * One refinement step of a session on a mini-batch: B (1..bmax) rows X
 * (B x dmax, zero-padded), targets y (B floats, or NULL when !has_y), D
 * active columns, rows_seen the rows of the session before this batch.
 * state is updated in place only on success.  loss_before / loss_after
 * (either may be NULL) receive the family's batch loss at the old and new
 * state: half squared error (linreg), negative log-likelihood per row
 * (mog), flow-matching loss with a fixed seed (flow).  Returns AM_OK,
 * AM_EINVAL or AM_ENUMERIC (state unchanged).
 */
int amz_step(const struct amz *a, struct amz_ws *ws, float *state,
	     const float *X, const float *y, int B, int D, double rows_seen,
	     float *loss_before, float *loss_after);

/* Regression: mean and (var may be NULL) predictive variance for n rows.
 * AM_EINVAL for a family without has_mean. */
int amz_predict(const struct amz *a, const float *state, const float *X,
		int n, int D, float *mean, float *var);

/* Classification: probabilities (n x AMZ_CLASSES_MAX, 0 past the
 * session's K) of n rows.  AM_EINVAL for the other families. */
int amz_predict_probs(const struct amz *a, const float *state, const float *X,
		      int n, int D, float *probs);

/* Classification: the session's number of classes, from its state (0 for
 * the other families). */
int amz_classes(const struct amz *a, const float *state);

/* Classification: sets K (2..classes) in a state.  AM_EINVAL otherwise. */
int amz_set_classes(const struct amz *a, float *state, int K);

/* Image models: n rows of npix pixels (0..255) to n rows of dmax features
 * (zero past the PCA's). AM_EINVAL for a model without pixels. */
int amz_project(const struct amz *a, const float *pix, int n, float *out);

/* Density models: log-density of n rows over the D active columns.
 * AM_EINVAL for a family without has_density. */
int amz_log_density(const struct amz *a, const float *state, const float *X,
		    int n, int D, float *out);

/*
 * Draws n (1..AMZ_SAMPLE_MAX) samples into out (n x dmax, columns >= D
 * zeroed).  The same state, D, n and seed give the same samples.  Returns
 * AM_OK, AM_EINVAL (no sampling, bad n or D) or AM_ENOMEM.
 */
int amz_sample(const struct amz *a, struct amz_ws *ws, const float *state,
	       int D, int n, uint64_t seed, float *out);

/*
 * Implicit models (implicit = 1; families clf and reg).  The state is not
 * a task's parameters but a prediction per query point: qstate floats per
 * query (logits, probabilities or a latent vector for clf; the mean, or a
 * latent, for reg).  A session's own state is then only its settings (for
 * clf, K in its last float): amz_step checks a batch exactly as for the
 * other families and leaves the state and the losses alone (loss_before
 * and loss_after are set to 0).  To predict at new points, a session
 * replays its mini-batches in order: amz_query_init, then amz_query_step
 * for each stored batch (its rows, targets and the rows seen before it),
 * then amz_query_probs or amz_query_mean.  The cost grows with the
 * history.  A fixed query set kept with the session is refined by
 * amz_query_step with each new batch instead.
 *
 * Queries do not attend to each other, so a query's prediction does not
 * depend on which other queries are refined with it: any n is run in
 * chunks of the model's query capacity.
 */

/* n (>= 0) query states (n x qstate) at the learned initial prediction.
 * AM_EINVAL unless implicit. */
int amz_query_init(const struct amz *a, const float *state, int n, float *qs);

/*
 * Refines the states qs (n x qstate) of n query rows Q (n x dmax,
 * zero-padded) by one mini-batch: X, y, B, D and rows_seen as for
 * amz_step (y: targets for reg, labels in [0, K) for clf).  qs is
 * unchanged unless AM_OK; AM_EINVAL (not implicit, sizes, labels) or
 * AM_ENUMERIC.
 */
int amz_query_step(const struct amz *a, struct amz_ws *ws, const float *state,
		   const float *Q, int n, float *qs, const float *X,
		   const float *y, int B, int D, double rows_seen);

/* clf: probabilities (n x AMZ_CLASSES_MAX, 0 past the session's K) from
 * n query states.  AM_EINVAL for the other families or !implicit. */
int amz_query_probs(const struct amz *a, const float *state, const float *qs,
		    int n, float *probs);

/* reg: means of n query states.  AM_EINVAL otherwise. */
int amz_query_mean(const struct amz *a, const float *state, const float *qs,
		   int n, float *mean);

/* The loss of n query states against their targets y (n floats: labels
 * for clf, values for reg): mean negative log-likelihood per row (clf) or
 * half the mean squared error (reg), the units of amz_step's losses.
 * NAN on bad arguments. */
float amz_query_loss(const struct amz *a, const float *state, const float *qs,
		     const float *y, int n);

#endif
