/*
 * source.c - task sources: draw a task, then rows of it (source.h).
 */
#include "data/source.h"

#include <string.h>

#include "base/am.h"

int source_letters_parse(const char *s, unsigned char *sel)
{
	int n = 0, i;

	memset(sel, 0, HERSHEY_LETTERS);
	for (; *s; s++) {
		i = hershey_letter_index((unsigned char)*s);
		if (i < 0)
			return -1;
		if (!sel[i])
			n++;
		sel[i] = 1;
	}
	return n;
}

int source_dx(enum source_kind src)
{
	return src == SOURCE_LINCLASS || src == SOURCE_IMAGES ||
	       src == SOURCE_LINREG ? SOURCE_XMAX : SOURCE_DMAX;
}

void source_draw(const struct source *ts, struct rng *r, struct source_task *t)
{
	int i, j;

	memset(t, 0, sizeof *t);
	if (ts->src == SOURCE_LINREG) {
		linreg_task_draw(&t->rt, &ts->rfam, r);
		t->D = t->rt.D;
		return;
	}
	if (ts->src == SOURCE_LINCLASS) {
		linclass_task_draw(&t->ct, &ts->cfam, r);
		t->D = t->ct.D;
		t->K = t->ct.K;
		return;
	}
	if (ts->src == SOURCE_IMAGES) {
		int perm[LINCLASS_KMAX];

		t->D = ts->img->dim;
		t->K = rng_int(r, ts->img->kmin, ts->img->kmax);
		/* a random subset of K classes in a random order: the first K
		 * of a Fisher-Yates shuffle */
		for (i = 0; i < ts->img->nclass; i++)
			perm[i] = i;
		for (i = 0; i < t->K; i++) {
			j = i + (int)rng_below(r, (uint64_t)(ts->img->nclass - i));
			t->cls[i] = perm[j];
			perm[j] = perm[i];
		}
		/* no draw without augmentation: such tasks stay as they were */
		if (ts->augment > 0.0f && rng_uniform(r) < ts->augment)
			t->aug = rng_u64(r) | 1;
		return;
	}
	if (ts->src == SOURCE_MOG) {
		struct mog_task mt;

		mog_task_draw(&mt, &ts->fam, r);
		t->D = mt.D;
		t->K = mt.K;
		memcpy(t->theta, mt.theta, sizeof t->theta);
		return;
	}
	t->D = 2;
	t->font = rng_int(r, 0, ts->fonts->nfonts - 1);
	do
		t->letter = rng_int(r, 0, HERSHEY_LETTERS - 1);
	while (!ts->letters[t->letter]);
}

void source_aug(uint64_t aug, int D, int *perm, float *sign)
{
	struct rng r;
	int d;

	rng_seed(&r, aug);
	rng_permutation(&r, perm, D);
	for (d = 0; d < D; d++)
		sign[d] = rng_below(&r, 2) ? 1.0f : -1.0f;
}

void source_sample(const struct source *ts, const struct source_task *t,
		   struct rng *r, int n, float *X, int *y)
{
	int i;

	if (ts->src == SOURCE_LINCLASS) {
		linclass_task_rows(&t->ct, r, n, X, y);
		return;
	}
	if (ts->src == SOURCE_IMAGES) {
		const struct source_images *im = ts->img;
		int perm[SOURCE_XMAX], d;
		float sign[SOURCE_XMAX];

		if (t->aug)
			source_aug(t->aug, t->D, perm, sign);
		for (i = 0; i < n; i++) {
			int lab = rng_int(r, 0, t->K - 1), c = t->cls[lab];
			int row = im->cls_rows[c][rng_below(r, (uint64_t)im->cls_count[c])];
			const float *src = im->X + (size_t)row * SOURCE_XMAX;
			float *dst = X + (size_t)i * SOURCE_XMAX;

			memcpy(dst, src, SOURCE_XMAX * sizeof *X);
			if (t->aug)
				for (d = 0; d < t->D; d++)
					dst[d] = sign[d] * src[perm[d]];
			y[i] = lab;
		}
		return;
	}
	if (ts->src == SOURCE_MOG) {
		mog_sample(t->theta, t->D, r, n, X);
		return;
	}
	memset(X, 0, (size_t)n * SOURCE_DMAX * sizeof *X);
	hershey_sample(&ts->fonts->font[t->font].glyph[t->letter], r, n,
		       ts->noise, X, SOURCE_DMAX);
}

void source_sample_query(const struct source *ts,
			 const struct source_task *t, struct rng *r, int n,
			 float *X, int *y)
{
	struct source q;

	if (ts->src != SOURCE_IMAGES || !ts->qimg) {
		source_sample(ts, t, r, n, X, y);
		return;
	}
	q = *ts;
	q.img = ts->qimg;
	source_sample(&q, t, r, n, X, y);
}

void source_sample_reg(const struct source *ts, const struct source_task *t,
		       struct rng *r, int n, float *X, float *tgt)
{
	float row[LINREG_DMAX];
	int i;

	AM_ASSERT(ts->src == SOURCE_LINREG);
	memset(X, 0, (size_t)n * SOURCE_XMAX * sizeof *X);
	for (i = 0; i < n; i++) {
		linreg_task_rows(&t->rt, r, 1, row, &tgt[i]);
		memcpy(X + (size_t)i * SOURCE_XMAX, row, sizeof row);
	}
}
