/*
 * source.h - task sources: where the tasks an amortizer is meta-trained and
 * evaluated on come from.  A source draws a task (source_draw) and then
 * rows of it (source_sample, source_sample_query, source_sample_reg):
 *
 *   SOURCE_MOG       random diagonal Gaussian mixtures (mog.h), rows x
 *   SOURCE_LETTERS   Hershey glyphs (hershey.h), points in D = 2
 *   SOURCE_LINCLASS  random linear teachers (linclass.h), rows x and a label
 *   SOURCE_IMAGES    class subsets of an image set (struct source_images,
 *                    as the image loader builds it), rows x and a label in
 *                    the task's own order of its classes
 *   SOURCE_LINREG    random linear regressions (linreg.h), rows x and a
 *                    target
 *
 * Rows are zero-padded to the source's width (source_dx): SOURCE_XMAX
 * floats for the classification and regression sources, SOURCE_DMAX for
 * the mixtures and letters.  A task and its rows are a function of the
 * source and the generator's state alone.
 *
 * A struct source owns nothing: its fonts and images are borrowed and
 * must outlive it.  A struct source_task is a plain value (a checkpoint may
 * copy it).  Nothing here allocates or prints; functions are thread-safe
 * on distinct generators and tasks.
 */
#ifndef SOURCE_H
#define SOURCE_H

#include <stdint.h>

#include "base/rng.h"
#include "data/hershey.h"
#include "tasks/linclass.h"
#include "tasks/linreg.h"
#include "tasks/mog.h"

#define SOURCE_DMAX 8			/* row width of mixtures and letters */
#define SOURCE_XMAX LINCLASS_DMAX	/* the widest row (classification,
					 * regression) */

enum source_kind {
	SOURCE_MOG = 1,			/* random mixtures (mog_family) */
	SOURCE_LETTERS = 2,		/* Hershey glyphs, D = 2 */
	SOURCE_LINCLASS = 3,		/* random linear teachers (linclass) */
	SOURCE_IMAGES = 4,		/* class subsets of an image set */
	SOURCE_LINREG = 5,		/* random linear regressions (linreg) */
};

/* Images as features (one split of one dataset), borrowed: X
 * (n x SOURCE_XMAX, D = dim features, zero past it), labels, and per-class
 * row lists. */
struct source_images {
	int n, dim, nclass;
	const float *X;
	const unsigned char *y;
	const int *cls_rows[LINCLASS_KMAX];	/* rows of class c */
	int cls_count[LINCLASS_KMAX];
	int kmin, kmax;				/* classes per task */
};

struct source {
	enum source_kind src;
	struct mog_family fam;
	struct linclass_family cfam;		/* LINCLASS */
	struct linreg_family rfam;		/* LINREG */
	const struct source_images *img;	/* IMAGES, borrowed */
	const struct source_images *qimg;	/* IMAGES: the query rows'
						 * pool when it is not img
						 * (borrowed; NULL: img) */
	const struct hershey_set *fonts;	/* borrowed (LETTERS) */
	unsigned char letters[HERSHEY_LETTERS];	/* 1: drawn */
	float noise;				/* LETTERS: point noise sd */
	float augment;				/* IMAGES, for training: the
						 * chance that a task's
						 * features come under a
						 * random signed permutation
						 * of its own (0: never, and
						 * no draw is made) */
};

struct source_task {
	int D, K;
	float theta[MOG_P];		/* MOG: the true mixture */
	int font, letter;		/* LETTERS */
	struct linclass_task ct;	/* LINCLASS: the teacher */
	struct linreg_task rt;		/* LINREG */
	int cls[LINCLASS_KMAX];		/* IMAGES: label j is class cls[j] */
	uint64_t aug;			/* IMAGES: 0, or the seed of the
					 * signed permutation of the
					 * features (source_aug) */
};

/*
 * The signed permutation of an augmented image task (aug != 0, from
 * the source's augment): feature d of every row the task samples is
 * sign[d] * (feature perm[d] of the image), for d < D.  A function of aug
 * and D alone, so a checkpoint need only keep aug.
 */
void source_aug(uint64_t aug, int D, int *perm, float *sign);

/* Parses a letter list such as "ABCabc" into sel (HERSHEY_LETTERS flags);
 * returns the number selected or -1 for a character that is not a
 * letter. */
int source_letters_parse(const char *s, unsigned char *sel);

/* Draws a task of ts into t: a mixture, a teacher, a class subset (and
 * for images with augment, maybe a feature permutation), or a font and one
 * of the selected letters. */
void source_draw(const struct source *ts, struct rng *r, struct source_task *t);

/* n rows of the task into X (n x dx, zero-padded; dx SOURCE_XMAX for the
 * classification and regression sources, SOURCE_DMAX otherwise) and, for
 * classification, labels into y (else y may be NULL); regression targets
 * go to t (source_sample_reg). */
void source_sample(const struct source *ts, const struct source_task *t,
		   struct rng *r, int n, float *X, int *y);
void source_sample_reg(const struct source *ts, const struct source_task *t,
		       struct rng *r, int n, float *X, float *tgt);

/* n rows a state is scored on (the training loss's query rows): as
 * source_sample, but from ts->qimg when an image source has one, so that
 * a task's scored images are never among its streamed ones. */
void source_sample_query(const struct source *ts,
			 const struct source_task *t, struct rng *r, int n,
			 float *X, int *y);

/* The row width of a source's rows. */
int source_dx(enum source_kind src);

#endif
