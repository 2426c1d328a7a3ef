/*
 * linclass.c - the softmax linear classifier and the `linclass` task
 * family.
 *
 * Rows are processed in chunks of LINCLASS_CHUNK so the logits live on the
 * stack: nothing here allocates.
 */
#include "tasks/linclass.h"

#include <math.h>
#include <string.h>

#include "base/am.h"
#include "base/gemm.h"

#define LINCLASS_CHUNK 128	/* rows per chunk of logits on the stack */

void linclass_family_default(struct linclass_family *f)
{
	memset(f, 0, sizeof *f);
	f->dmin = 1;
	f->dmax = 32;
	f->kmin = 2;
	f->kmax = LINCLASS_KMAX;
	f->temp_min = 0.05f;
	f->temp_max = 0.5f;
}

int linclass_family_check(const struct linclass_family *f)
{
	if (f->dmin < 1 || f->dmin > f->dmax || f->dmax > LINCLASS_DMAX)
		return AM_EINVAL;
	if (f->kmin < 2 || f->kmin > f->kmax || f->kmax > LINCLASS_KMAX)
		return AM_EINVAL;
	if (!isfinite(f->temp_min) || !isfinite(f->temp_max) ||
	    !(f->temp_min > 0.0f) || !(f->temp_min <= f->temp_max))
		return AM_EINVAL;
	return AM_OK;
}

/*
 * Draws a task in the order documented in the header.  The temperature is
 * exp(U(log temp_min, log temp_max)) clamped to the range after rounding to
 * float; the uniform is drawn even when the range is a point so the stream
 * position never depends on the family's values.
 */
void linclass_task_draw(struct linclass_task *t, const struct linclass_family *f,
			struct rng *r)
{
	double lo, hi, sd;
	float temp;
	int j, k;

	AM_ASSERT(linclass_family_check(f) == AM_OK);
	memset(t, 0, sizeof *t);
	t->D = rng_int(r, f->dmin, f->dmax);
	t->K = rng_int(r, f->kmin, f->kmax);
	lo = log((double)f->temp_min);
	hi = log((double)f->temp_max);
	temp = (float)exp(lo + (hi - lo) * rng_uniform(r));
	t->temp = fminf(fmaxf(temp, f->temp_min), f->temp_max);
	/* W_jk ~ N(0, 1/D): a logit's variance sum_j W_jk^2 is 1 on average */
	sd = 1.0 / sqrt((double)t->D);
	for (k = 0; k < t->K; k++) {
		float *tok = t->theta + k * LINCLASS_T;

		for (j = 0; j < t->D; j++)
			tok[j] = (float)(sd * rng_normal(r));
		tok[LINCLASS_BIAS] = (float)(LINCLASS_BIAS_SD * rng_normal(r));
	}
}

/* q (LINCLASS_KMAX) = softmax(teacher logits(x) / temp) over the K classes,
 * in double for the sums; zero past K. */
static void linclass_teacher_probs(const struct linclass_task *t,
				   const float *x, float *q)
{
	double z[LINCLASS_KMAX], mx = -INFINITY, sum = 0.0;
	int j, k;

	for (k = 0; k < t->K; k++) {
		const float *tok = t->theta + k * LINCLASS_T;
		double s = tok[LINCLASS_BIAS];

		for (j = 0; j < t->D; j++)
			s += (double)tok[j] * x[j];
		z[k] = s / t->temp;
		if (z[k] > mx)
			mx = z[k];
	}
	for (k = 0; k < t->K; k++) {
		z[k] = exp(z[k] - mx);
		sum += z[k];
	}
	for (k = 0; k < LINCLASS_KMAX; k++)
		q[k] = k < t->K ? (float)(z[k] / sum) : 0.0f;
}

static void linclass_task_assert(const struct linclass_task *t)
{
	AM_ASSERT(t->D >= 1 && t->D <= LINCLASS_DMAX);
	AM_ASSERT(t->K >= 1 && t->K <= LINCLASS_KMAX);
	AM_ASSERT(isfinite(t->temp) && t->temp > 0.0f);
}

void linclass_task_rows(const struct linclass_task *t, struct rng *r, int n,
			float *X, int *y)
{
	float q[LINCLASS_KMAX];
	int i, j;

	linclass_task_assert(t);
	AM_ASSERT(n >= 0);
	for (i = 0; i < n; i++) {
		float *x = X + (long)i * LINCLASS_DMAX;

		for (j = 0; j < t->D; j++)
			x[j] = (float)rng_normal(r);
		for (; j < LINCLASS_DMAX; j++)
			x[j] = 0.0f;
		linclass_teacher_probs(t, x, q);
		y[i] = rng_categorical(r, q, t->K);
	}
}

int linclass_argmax(const float *logits, int K)
{
	int k, best = -1;

	AM_ASSERT(K >= 1);
	/* NaN compares false, so it is skipped explicitly */
	for (k = 0; k < K; k++)
		if (!isnan(logits[k]) && (best < 0 || logits[k] > logits[best]))
			best = k;
	return best < 0 ? 0 : best;
}

double linclass_task_error(const struct linclass_task *t, const float *theta,
			   const float *X, int n)
{
	float logits[LINCLASS_CHUNK * LINCLASS_KMAX], q[LINCLASS_KMAX];
	double err = 0.0;
	int i0, i, nb;

	linclass_task_assert(t);
	AM_ASSERT(n >= 1);
	for (i0 = 0; i0 < n; i0 += nb) {
		nb = n - i0 < LINCLASS_CHUNK ? n - i0 : LINCLASS_CHUNK;
		linclass_logits(theta, t->D, t->K, X + (long)i0 * LINCLASS_DMAX,
				nb, logits);
		for (i = 0; i < nb; i++) {
			const float *x = X + (long)(i0 + i) * LINCLASS_DMAX;

			linclass_teacher_probs(t, x, q);
			err += 1.0 - q[linclass_argmax(logits + i * LINCLASS_KMAX,
						       t->K)];
		}
	}
	return err / n;
}

double linclass_task_bayes_error(const struct linclass_task *t, struct rng *r,
				 int n)
{
	float X[LINCLASS_CHUNK * LINCLASS_DMAX];
	int y[LINCLASS_CHUNK];
	double err = 0.0;
	int i0, nb;

	AM_ASSERT(n >= 1);
	for (i0 = 0; i0 < n; i0 += nb) {
		nb = n - i0 < LINCLASS_CHUNK ? n - i0 : LINCLASS_CHUNK;
		linclass_task_rows(t, r, nb, X, y);
		err += linclass_task_error(t, t->theta, X, nb) * nb;
	}
	return err / n;
}

void linclass_logits(const float *theta, int D, int K, const float *X, int n,
		     float *logits)
{
	int i, k;

	AM_ASSERT(D >= 1 && D <= LINCLASS_DMAX);
	AM_ASSERT(K >= 1 && K <= LINCLASS_KMAX && n >= 0);
	/* logits[:, :K] (n x K) = X[:, :D] (n x D) * W (D x K), where W^T is
	 * the first D columns of the first K rows of theta (stride T) */
	gemm(false, true, n, K, D, 1.0f, X, LINCLASS_DMAX, theta, LINCLASS_T,
	     0.0f, logits, LINCLASS_KMAX);
	for (i = 0; i < n; i++) {
		float *row = logits + (long)i * LINCLASS_KMAX;

		for (k = 0; k < K; k++)
			row[k] += theta[k * LINCLASS_T + LINCLASS_BIAS];
		for (; k < LINCLASS_KMAX; k++)
			row[k] = -INFINITY;
	}
}

/*
 * One chunk of rows: turns its logits (nb, KMAX) into dlogits in place,
 * dlogits_ik = (p_ik - [y_i == k]) / n over k < K (zero past K), writes
 * the probabilities to probs if asked, and returns the chunk's summed
 * cross-entropy sum_i (logsumexp_k z_ik - z_i,y_i), in double.
 */
static double linclass_chunk_xent(float *logits, const int *y, int nb, int K,
				  int n, float *probs)
{
	double total = 0.0;
	int i, k;

	for (i = 0; i < nb; i++) {
		float *z = logits + (long)i * LINCLASS_KMAX;
		double e[LINCLASS_KMAX], mx = z[0], sum = 0.0, lse;

		AM_ASSERT(y[i] >= 0 && y[i] < K);
		for (k = 1; k < K; k++)
			if (z[k] > mx)
				mx = z[k];
		for (k = 0; k < K; k++) {
			e[k] = exp((double)z[k] - mx);
			sum += e[k];
		}
		lse = mx + log(sum);
		total += lse - z[y[i]];
		for (k = 0; k < K; k++) {
			double p = e[k] / sum;

			if (probs)
				probs[(long)i * LINCLASS_KMAX + k] = (float)p;
			z[k] = (float)((p - (k == y[i])) / n);
		}
		for (; k < LINCLASS_KMAX; k++) {
			if (probs)
				probs[(long)i * LINCLASS_KMAX + k] = 0.0f;
			z[k] = 0.0f;
		}
	}
	return total;
}

double linclass_loss(const float *theta, int D, int K, const float *X,
		     const int *y, int n, float l2, float *grad, float *probs)
{
	float logits[LINCLASS_CHUNK * LINCLASS_KMAX];
	double total = 0.0, reg = 0.0, db[LINCLASS_KMAX] = { 0 };
	int i0, i, nb, j, k;

	AM_ASSERT(n >= 1);
	AM_ASSERT(D >= 1 && D <= LINCLASS_DMAX && K >= 1 && K <= LINCLASS_KMAX);
	if (grad)
		memset(grad, 0, LINCLASS_P * sizeof *grad);
	for (i0 = 0; i0 < n; i0 += nb) {
		const float *Xc = X + (long)i0 * LINCLASS_DMAX;

		nb = n - i0 < LINCLASS_CHUNK ? n - i0 : LINCLASS_CHUNK;
		linclass_logits(theta, D, K, Xc, nb, logits);
		total += linclass_chunk_xent(logits, y + i0, nb, K, n,
					     probs ? probs + (long)i0 * LINCLASS_KMAX : NULL);
		if (!grad)
			continue;
		/* dW^T[:K, :D] (K x D, stride T) += dlogits^T (K x nb) *
		 * X[:, :D] (nb x D) */
		gemm(true, false, K, D, nb, 1.0f, logits, LINCLASS_KMAX, Xc,
		     LINCLASS_DMAX, 1.0f, grad, LINCLASS_T);
		for (i = 0; i < nb; i++)
			for (k = 0; k < K; k++)
				db[k] += logits[(long)i * LINCLASS_KMAX + k];
	}
	for (k = 0; k < K; k++) {
		const float *w = theta + k * LINCLASS_T;

		for (j = 0; j < D; j++) {
			reg += (double)w[j] * w[j];
			if (grad)
				grad[k * LINCLASS_T + j] += l2 * w[j];
		}
		if (grad)
			grad[k * LINCLASS_T + LINCLASS_BIAS] = (float)db[k];
	}
	return total / n + 0.5 * (double)l2 * reg;
}

double linclass_error(const float *theta, int D, int K, const float *X,
		      const int *y, int n)
{
	float logits[LINCLASS_CHUNK * LINCLASS_KMAX];
	int i0, i, nb;
	long wrong = 0;

	AM_ASSERT(n >= 1);
	for (i0 = 0; i0 < n; i0 += nb) {
		nb = n - i0 < LINCLASS_CHUNK ? n - i0 : LINCLASS_CHUNK;
		linclass_logits(theta, D, K, X + (long)i0 * LINCLASS_DMAX, nb,
				logits);
		for (i = 0; i < nb; i++)
			wrong += linclass_argmax(logits + i * LINCLASS_KMAX, K) !=
				 y[i0 + i];
	}
	return (double)wrong / n;
}
