/*
 * logreg.c - full-batch L2 logistic regression by Newton's method, with
 * cross-validated L2, and the single-pass SGD and Adam baselines.
 *
 * Inside the Newton solver the unknowns are the m = K (D + 1) active
 * entries of theta, in double, indexed u = k (D + 1) + j: weights for
 * j < D, the bias at j = D.  Row i enters as z_i = [x_i[0..D), 1].
 */
#include "eval/logreg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "base/gemm.h"

#define LOGREG_HROWS 2048	/* rows per gemm chunk of the Hessian */
#define LOGREG_GTOL 1e-9	/* stop: |gradient|_2 */
#define LOGREG_DTOL 1e-16	/* stop: Newton decrement / 2 */
#define LOGREG_SHIFTS 9		/* Cholesky retries with a raised diagonal */

float logreg_l2(int i)
{
	AM_ASSERT(i >= 0 && i < LOGREG_L2S);
	return (float)pow(10.0, -6.0 + 0.5 * i);
}

float logreg_lr(int i)
{
	AM_ASSERT(i >= 0 && i < LOGREG_LRS);
	/* 1e-4 * 1e5^(i / (LOGREG_LRS - 1)) */
	return (float)(1e-4 * pow(1e5, (double)i / (LOGREG_LRS - 1)));
}

double logreg_objective(const float *theta, int D, int K, const float *X,
			const int *y, int n, float l2, float *grad)
{
	double f = linclass_loss(theta, D, K, X, y, n, l2, grad, NULL);
	int k;

	for (k = 0; k < K; k++) {
		float b = theta[k * LINCLASS_T + LINCLASS_BIAS];

		f += 0.5 * (double)LOGREG_L2_BIAS * b * b;
		if (grad)
			grad[k * LINCLASS_T + LINCLASS_BIAS] += LOGREG_L2_BIAS * b;
	}
	return f;
}

/* ---- the Newton solver ---------------------------------------------------- */

/* Work space of one solver: sized for up to nmax rows of D inputs and K
 * classes, bound to rows by ws_bind. */
struct logreg_ws {
	int nmax, n, D, K, m;
	const int *y;		/* borrowed, (n) */
	float *Z;		/* (nmax, D + 1): [x, 1] */
	float *Wz;		/* (LOGREG_HROWS, m): weighted rows */
	float *Hf;		/* (D + 1, m): one block row of H */
	double *P;		/* (nmax, K): probabilities */
	double *H;		/* (m, m): H in the upper triangle, L in the lower */
	double *hd;		/* (m): the diagonal of H */
	double *g, *d, *tr;	/* (m): gradient, step, trial point */
};

static void ws_free(struct logreg_ws *w)
{
	free(w->Z);
	free(w->Wz);
	free(w->Hf);
	free(w->P);
	free(w->H);
	free(w->hd);
	free(w->g);
	free(w->d);
	free(w->tr);
}

static int ws_alloc(struct logreg_ws *w, int nmax, int D, int K)
{
	size_t m;

	memset(w, 0, sizeof *w);
	w->nmax = nmax;
	w->D = D;
	w->K = K;
	w->m = K * (D + 1);
	m = (size_t)w->m;
	w->Z = malloc((size_t)nmax * (D + 1) * sizeof *w->Z);
	w->Wz = malloc((size_t)LOGREG_HROWS * m * sizeof *w->Wz);
	w->Hf = malloc((size_t)(D + 1) * m * sizeof *w->Hf);
	w->P = malloc((size_t)nmax * K * sizeof *w->P);
	w->H = malloc(m * m * sizeof *w->H);
	w->hd = malloc(m * sizeof *w->hd);
	w->g = malloc(m * sizeof *w->g);
	w->d = malloc(m * sizeof *w->d);
	w->tr = malloc(m * sizeof *w->tr);
	if (!w->Z || !w->Wz || !w->Hf || !w->P || !w->H || !w->hd || !w->g ||
	    !w->d || !w->tr) {
		ws_free(w);
		return AM_ENOMEM;
	}
	return AM_OK;
}

/*
 * Binds the solver to n <= nmax rows: copies their first D inputs into Z
 * with the constant 1 appended.  Labels are checked by assertion (a
 * programming error), inputs for finiteness (data: AM_ENUMERIC).
 */
static int ws_bind(struct logreg_ws *w, const float *X, const int *y, int n)
{
	int i, j, D = w->D;

	AM_ASSERT(n >= 1 && n <= w->nmax);
	for (i = 0; i < n; i++) {
		const float *x = X + (long)i * LINCLASS_DMAX;
		float *z = w->Z + (long)i * (D + 1);

		AM_ASSERT(y[i] >= 0 && y[i] < w->K);
		for (j = 0; j < D; j++) {
			if (!isfinite(x[j]))
				return AM_ENUMERIC;
			z[j] = x[j];
		}
		z[D] = 1.0f;
	}
	w->n = n;
	w->y = y;
	return AM_OK;
}

/*
 * The objective at th (m) in double:
 *     f = 1/n sum_i (logsumexp_k s_ik - s_i,y_i) + l2/2 |W|^2 + lb/2 |b|^2,
 *     s_ik = sum_j th[k(D+1)+j] z_ij.
 * If want_grad, also writes the probabilities into P and the gradient
 *     g_kj = 1/n sum_i (p_ik - [y_i == k]) z_ij + (l2 or lb) th_kj
 * into w->g.  Returns f (non-finite if th or the rows are).
 */
static double ws_eval(struct logreg_ws *w, const double *th, double l2,
		      int want_grad)
{
	int n = w->n, D = w->D, K = w->K, m = w->m, T = D + 1, i, j, k;
	double f = 0.0, reg = 0.0;

	if (want_grad)
		memset(w->g, 0, (size_t)m * sizeof *w->g);
	for (i = 0; i < n; i++) {
		const float *z = w->Z + (long)i * T;
		double s[LINCLASS_KMAX], mx = -INFINITY, sum = 0.0;

		for (k = 0; k < K; k++) {
			const double *t = th + k * T;
			double a = 0.0;

			for (j = 0; j < T; j++)
				a += t[j] * z[j];
			s[k] = a;
			if (a > mx)
				mx = a;
		}
		if (!isfinite(mx))
			return NAN;
		for (k = 0; k < K; k++)
			sum += exp(s[k] - mx);
		f += mx + log(sum) - s[w->y[i]];
		if (!want_grad)
			continue;
		for (k = 0; k < K; k++) {
			double p = exp(s[k] - mx) / sum, r;
			double *gk = w->g + k * T;

			w->P[(long)i * K + k] = p;
			r = p - (k == w->y[i]);
			for (j = 0; j < T; j++)
				gk[j] += r * z[j];
		}
	}
	f /= n;
	for (k = 0; k < K; k++) {
		for (j = 0; j < T; j++) {
			double v = th[k * T + j], c = j < D ? l2 : LOGREG_L2_BIAS;

			reg += c * v * v;
			if (want_grad)
				w->g[k * T + j] = w->g[k * T + j] / n + c * v;
		}
	}
	return f + 0.5 * reg;
}

/*
 * The Hessian at the probabilities in P, into the upper triangle of H
 * (row-major m x m) and its diagonal into hd:
 *     H[(k,j),(l,j')] = 1/n sum_i a_ikl z_ij z_ij' + penalty on the diagonal,
 *     a_ikl = p_ik ([k == l] - p_il),
 * with a_ikk = p_ik sum_{l != k} p_il, which keeps its accuracy when p_ik
 * is near 1.  Block row k (l >= k) is one gemm per chunk of rows.
 */
static void ws_hessian(struct logreg_ws *w, double l2)
{
	int n = w->n, D = w->D, K = w->K, m = w->m, T = D + 1;
	int i, i0, nb, j, c, k, l;

	for (k = 0; k < K; k++) {
		int cols = (K - k) * T;

		for (i0 = 0; i0 < n; i0 += nb) {
			nb = n - i0 < LOGREG_HROWS ? n - i0 : LOGREG_HROWS;
			for (i = 0; i < nb; i++) {
				const double *p = w->P + (long)(i0 + i) * K;
				const float *z = w->Z + (long)(i0 + i) * T;
				float *wz = w->Wz + (long)i * cols;
				double rest = 0.0;

				for (l = 0; l < K; l++)
					if (l != k)
						rest += p[l];
				for (l = k; l < K; l++) {
					double a = l == k ? p[k] * rest : -p[k] * p[l];

					for (j = 0; j < T; j++)
						wz[(l - k) * T + j] = (float)(a * z[j]);
				}
			}
			/* Hf (T x cols) (+)= Z[i0:i0+nb]^T (T x nb) *
			 * Wz (nb x cols) / n */
			gemm(true, false, T, cols, nb, 1.0f / (float)n,
			     w->Z + (long)i0 * T, T, w->Wz, cols,
			     i0 ? 1.0f : 0.0f, w->Hf, cols);
		}
		for (j = 0; j < T; j++)
			for (c = j; c < cols; c++)
				w->H[(long)(k * T + j) * m + k * T + c] =
					w->Hf[(long)j * cols + c];
	}
	for (i = 0; i < m; i++) {
		w->H[(long)i * m + i] += i % T < D ? l2 : LOGREG_L2_BIAS;
		w->hd[i] = w->H[(long)i * m + i];
	}
}

/* sum_k a[k] b[k] with four partial sums (a fixed order: deterministic). */
static double dot4(const double *a, const double *b, int n)
{
	double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
	int k = 0;

	for (; k + 4 <= n; k += 4) {
		s0 += a[k] * b[k];
		s1 += a[k + 1] * b[k + 1];
		s2 += a[k + 2] * b[k + 2];
		s3 += a[k + 3] * b[k + 3];
	}
	for (; k < n; k++)
		s0 += a[k] * b[k];
	return (s0 + s1) + (s2 + s3);
}

/*
 * Cholesky factor L of H + shift I into the lower triangle of w->H
 * (row-major, Crout order: L[i][j] from rows i and j before column j),
 * reading H from the untouched upper triangle and hd, so a failed attempt
 * can be retried.  Returns 0, or -1 if a pivot is not finite or not above
 * 1e-13 times the largest diagonal entry.
 */
static int ws_cholesky(struct logreg_ws *w, double shift, double hmax)
{
	int m = w->m, i, j;
	double *A = w->H;

	for (j = 0; j < m; j++) {
		double *Lj = A + (long)j * m, s;

		s = w->hd[j] + shift - dot4(Lj, Lj, j);
		if (!isfinite(s) || !(s > 1e-13 * hmax))
			return -1;
		Lj[j] = sqrt(s);
		for (i = j + 1; i < m; i++) {
			double *Li = A + (long)i * m;

			/* H[i][j] for i > j lives at H[j][i] (upper triangle) */
			Li[j] = (A[(long)j * m + i] - dot4(Li, Lj, j)) / Lj[j];
		}
	}
	return 0;
}

/*
 * Solves L L' d = -g with the factor in the lower triangle of w->H:
 * forward, L u = -g by rows; back, L' d = u by columns of L' (rows of L),
 * so both passes read L row by row.
 */
static void ws_solve(struct logreg_ws *w)
{
	int m = w->m, i, k;
	const double *L = w->H;
	double *d = w->d;

	for (i = 0; i < m; i++)
		d[i] = (-w->g[i] - dot4(L + (long)i * m, d, i)) / L[(long)i * m + i];
	for (i = m - 1; i >= 0; i--) {
		const double *Li = L + (long)i * m;

		d[i] /= Li[i];
		for (k = 0; k < i; k++)
			d[k] -= Li[k] * d[i];
	}
}

/* The Newton step d = -H^-1 g, raising the diagonal if H is numerically
 * indefinite.  Returns 0, or -1 if no shift works. */
static int ws_newton_step(struct logreg_ws *w, double l2)
{
	double hmax = 0.0, shift = 0.0;
	int i, tries;

	ws_hessian(w, l2);
	for (i = 0; i < w->m; i++)
		if (w->hd[i] > hmax)
			hmax = w->hd[i];
	if (!isfinite(hmax) || !(hmax > 0.0))
		return -1;
	for (tries = 0; ws_cholesky(w, shift, hmax) != 0; tries++) {
		if (tries == LOGREG_SHIFTS)
			return -1;
		shift = shift > 0.0 ? shift * 10.0 : 1e-12 * hmax;
	}
	ws_solve(w);
	return 0;
}

/*
 * Newton's method from th (m, in: the start; out: the result) on the bound
 * rows with the stopping rule of logreg_fit.  Returns AM_OK or
 * AM_ENUMERIC.
 */
static int ws_newton(struct logreg_ws *w, double *th, double l2, int max_iter)
{
	int m = w->m, it, u, half;
	double f, gg, gd, ft, t;

	for (it = 0;; it++) {
		f = ws_eval(w, th, l2, 1);
		if (!isfinite(f))
			return AM_ENUMERIC;
		gg = dot4(w->g, w->g, m);
		if (!isfinite(gg))
			return AM_ENUMERIC;
		if (sqrt(gg) <= LOGREG_GTOL || it >= max_iter)
			return AM_OK;
		if (ws_newton_step(w, l2) != 0)
			return AM_ENUMERIC;
		gd = dot4(w->g, w->d, m);	/* -(Newton decrement) */
		if (!isfinite(gd))
			return AM_ENUMERIC;
		if (!(-0.5 * gd > LOGREG_DTOL))
			return AM_OK;
		/* backtracking to the Armijo condition
		 * f(th + t d) <= f + 1e-4 t g'd */
		for (half = 0, t = 1.0; half < 60; half++, t *= 0.5) {
			for (u = 0; u < m; u++)
				w->tr[u] = th[u] + t * w->d[u];
			ft = ws_eval(w, w->tr, l2, 0);
			if (isfinite(ft) && ft <= f + 1e-4 * t * gd)
				break;
		}
		if (half == 60)
			return AM_OK;	/* no decrease left above rounding */
		memcpy(th, w->tr, (size_t)m * sizeof *th);
	}
}

/* Scatters th (m) into theta (LINCLASS_P), zero elsewhere; returns -1 if
 * an entry is not finite in float. */
static int ws_export(const struct logreg_ws *w, const double *th, float *theta)
{
	int T = w->D + 1, j, k;

	memset(theta, 0, LINCLASS_P * sizeof *theta);
	for (k = 0; k < w->K; k++) {
		for (j = 0; j < T; j++) {
			float v = (float)th[k * T + j];

			if (!isfinite(v))
				return -1;
			theta[k * LINCLASS_T + (j < w->D ? j : LINCLASS_BIAS)] = v;
		}
	}
	return 0;
}

static void logreg_args_check(const int *y, int n, int D, int K)
{
	AM_ASSERT(y != NULL && n >= 1);
	AM_ASSERT(D >= 1 && D <= LINCLASS_DMAX && K >= 1 && K <= LINCLASS_KMAX);
}

/* Fits on the rows bound to w from th (in/out) and exports to theta_out
 * and loss_out. */
static int ws_fit_export(struct logreg_ws *w, const float *X, double *th,
			 float l2, int max_iter, float *theta_out,
			 double *loss_out)
{
	float theta[LINCLASS_P];
	double loss;
	int rc;

	rc = ws_newton(w, th, l2, max_iter);
	if (rc != AM_OK)
		return rc;
	if (ws_export(w, th, theta) != 0)
		return AM_ENUMERIC;
	loss = logreg_objective(theta, w->D, w->K, X, w->y, w->n, l2, NULL);
	if (!isfinite(loss))
		return AM_ENUMERIC;
	memcpy(theta_out, theta, sizeof theta);
	if (loss_out)
		*loss_out = loss;
	return AM_OK;
}

int logreg_fit(const float *X, const int *y, int n, int D, int K, float l2,
	       int max_iter, float *theta_out, double *loss_out)
{
	struct logreg_ws w;
	double *th = NULL;
	int rc;

	logreg_args_check(y, n, D, K);
	AM_ASSERT(isfinite(l2) && l2 >= 0.0f && max_iter >= 0);
	rc = ws_alloc(&w, n, D, K);
	if (rc != AM_OK)
		return rc;
	th = calloc((size_t)w.m, sizeof *th);
	if (!th) {
		rc = AM_ENOMEM;
		goto out;
	}
	rc = ws_bind(&w, X, y, n);
	if (rc == AM_OK)
		rc = ws_fit_export(&w, X, th, l2, max_iter, theta_out, loss_out);
out:
	free(th);
	ws_free(&w);
	return rc;
}

/*
 * Scores th (m) on the rows i = start, start + step, ... < n of X, y:
 * adds the number of rows whose argmax logit (ties to the lowest class)
 * misses the label into *wrong and their summed cross-entropy into *xent,
 * in double.
 */
static void ws_score(const struct logreg_ws *w, const double *th,
		     const float *X, const int *y, int n, int start, int step,
		     double *wrong, double *xent)
{
	int D = w->D, K = w->K, T = D + 1, i, j, k, best;

	AM_ASSERT(K >= 1 && K <= LINCLASS_KMAX);
	for (i = start; i < n; i += step) {
		const float *x = X + (long)i * LINCLASS_DMAX;
		double s[LINCLASS_KMAX], sum = 0.0;

		AM_ASSERT(y[i] >= 0 && y[i] < K);
		for (k = 0; k < K; k++) {
			const double *t = th + k * T;
			double a = t[D];

			for (j = 0; j < D; j++)
				a += t[j] * x[j];
			s[k] = a;
		}
		for (k = 1, best = 0; k < K; k++)
			if (s[k] > s[best])
				best = k;
		for (k = 0; k < K; k++)
			sum += exp(s[k] - s[best]);
		*xent += s[best] + log(sum) - s[y[i]];
		*wrong += best != y[i];
	}
}

int logreg_fit_cv(const float *X, const int *y, int n, int D, int K, int folds,
		  int max_iter, float *theta_out, float *l2_out,
		  double *loss_out)
{
	double score[LOGREG_L2S] = { 0 }, wrong = 0.0, *th = NULL;
	struct logreg_ws w;
	float *Xtr = NULL;
	int *ytr = NULL;
	int rc, f, i, l, ntr, best;

	logreg_args_check(y, n, D, K);
	AM_ASSERT(n >= 2 && folds >= 2 && max_iter >= 0);
	if (folds > n)
		folds = n;
	rc = ws_alloc(&w, n, D, K);
	if (rc != AM_OK)
		return rc;
	rc = AM_ENOMEM;
	th = malloc((size_t)w.m * sizeof *th);
	Xtr = malloc((size_t)n * LINCLASS_DMAX * sizeof *Xtr);
	ytr = malloc((size_t)n * sizeof *ytr);
	if (!th || !Xtr || !ytr)
		goto out;

	for (f = 0; f < folds; f++) {
		/* the training rows of fold f, in their original order */
		for (i = 0, ntr = 0; i < n; i++) {
			if (i % folds == f)
				continue;
			memcpy(Xtr + (long)ntr * LINCLASS_DMAX,
			       X + (long)i * LINCLASS_DMAX,
			       LINCLASS_DMAX * sizeof *Xtr);
			ytr[ntr++] = y[i];
		}
		rc = ws_bind(&w, Xtr, ytr, ntr);
		if (rc != AM_OK)
			goto out;
		/* the path from the strongest penalty down, warm-started */
		memset(th, 0, (size_t)w.m * sizeof *th);
		for (l = LOGREG_L2S - 1; l >= 0; l--) {
			rc = ws_newton(&w, th, logreg_l2(l), max_iter);
			if (rc != AM_OK)
				goto out;
			ws_score(&w, th, X, y, n, f, folds, &wrong, &score[l]);
		}
	}
	best = LOGREG_L2S - 1;
	for (l = LOGREG_L2S - 2; l >= 0; l--)
		if (score[l] < score[best])
			best = l;
	if (!isfinite(score[best])) {
		rc = AM_ENUMERIC;
		goto out;
	}

	rc = ws_bind(&w, X, y, n);
	if (rc != AM_OK)
		goto out;
	memset(th, 0, (size_t)w.m * sizeof *th);
	rc = ws_fit_export(&w, X, th, logreg_l2(best), max_iter, theta_out,
			   loss_out);
	if (rc == AM_OK)
		*l2_out = logreg_l2(best);
out:
	free(ytr);
	free(Xtr);
	free(th);
	ws_free(&w);
	return rc;
}

/* ---- single-pass SGD and Adam ------------------------------------------ */

void logreg_opt_init(struct logreg_opt *o, int adam, float lr)
{
	memset(o, 0, sizeof *o);
	o->adam = adam != 0;
	o->lr = lr;
}

void logreg_opt_step(struct logreg_opt *o, float *theta, const float *X,
		     const int *y, int B, int D, int K)
{
	float g[LINCLASS_P], c1, c2;
	int q;

	AM_ASSERT(B >= 1);
	linclass_loss(theta, D, K, X, y, B, 0.0f, g, NULL);
	o->t++;
	if (!o->adam) {
		for (q = 0; q < LINCLASS_P; q++)
			theta[q] -= o->lr * g[q];
		return;
	}
	/* the bias corrections 1 - beta^t, as eval.c computes them */
	c1 = 1.0f - powf(0.9f, (float)o->t);
	c2 = 1.0f - powf(0.999f, (float)o->t);
	for (q = 0; q < LINCLASS_P; q++) {
		o->m[q] = 0.9f * o->m[q] + 0.1f * g[q];
		o->v[q] = 0.999f * o->v[q] + 0.001f * g[q] * g[q];
		theta[q] -= o->lr * (o->m[q] / c1) / (sqrtf(o->v[q] / c2) + 1e-8f);
	}
}

void logreg_sgd_stream(const float *X, const int *y, int nbatches, int B,
		       int D, int K, float lr, int adam, float *theta)
{
	struct logreg_opt o;
	int k;

	AM_ASSERT(nbatches >= 0 && B >= 1);
	logreg_opt_init(&o, adam, lr);
	for (k = 0; k < nbatches; k++)
		logreg_opt_step(&o, theta, X + (long)k * B * LINCLASS_DMAX,
				y + (long)k * B, B, D, K);
}

/* True if theta's active entries are all finite. */
static int theta_finite(const float *theta, int D, int K)
{
	int j, k;

	for (k = 0; k < K; k++) {
		const float *tok = theta + k * LINCLASS_T;

		for (j = 0; j < D; j++)
			if (!isfinite(tok[j]))
				return 0;
		if (!isfinite(tok[LINCLASS_BIAS]))
			return 0;
	}
	return 1;
}

void logreg_tune_lrs(const struct logreg_tune_task *tasks, int ntasks, int B,
		     int nk, const int *ks, int adam, float *lr_out)
{
	double err[LOGREG_KS_MAX][LOGREG_LRS] = { { 0 } };
	double xent[LOGREG_KS_MAX][LOGREG_LRS] = { { 0 } };
	float theta[LINCLASS_P];
	struct logreg_opt o;
	int i, l, k, j, best;

	AM_ASSERT(ntasks >= 1 && B >= 1 && nk >= 1 && nk <= LOGREG_KS_MAX);
	for (j = 0; j < nk; j++)
		AM_ASSERT(ks[j] >= 1 && (j == 0 || ks[j] > ks[j - 1]));
	for (i = 0; i < ntasks; i++) {
		const struct logreg_tune_task *t = &tasks[i];

		AM_ASSERT(t->nte >= 1);
		for (l = 0; l < LOGREG_LRS; l++) {
			memset(theta, 0, sizeof theta);
			logreg_opt_init(&o, adam, logreg_lr(l));
			for (k = 1, j = 0; k <= ks[nk - 1]; k++) {
				double e, x;

				logreg_opt_step(&o, theta,
						t->X + (long)(k - 1) * B * LINCLASS_DMAX,
						t->y + (long)(k - 1) * B, B, t->D, t->K);
				if (k != ks[j])
					continue;
				if (theta_finite(theta, t->D, t->K)) {
					e = linclass_error(theta, t->D, t->K, t->Xte,
							   t->yte, t->nte);
					x = linclass_loss(theta, t->D, t->K, t->Xte,
							  t->yte, t->nte, 0.0f, NULL, NULL);
				} else {
					e = x = INFINITY;
				}
				/* a diverged rate scores as infinitely bad */
				if (!isfinite(x))
					e = x = INFINITY;
				err[j][l] += e;
				xent[j][l] += x;
				j++;
			}
		}
	}
	for (j = 0; j < nk; j++) {
		best = 0;
		for (l = 1; l < LOGREG_LRS; l++)
			if (err[j][l] < err[j][best] ||
			    (err[j][l] == err[j][best] && xent[j][l] < xent[j][best]))
				best = l;
		lr_out[j] = logreg_lr(best);
	}
}

float logreg_tune_lr(const struct logreg_tune_task *tasks, int ntasks,
		     int nbatches, int B, int adam)
{
	float lr;

	logreg_tune_lrs(tasks, ntasks, B, 1, &nbatches, adam, &lr);
	return lr;
}

/*
 * Fits the grid path (largest l2 first, warm-started) on the first
 * ks[j] * B stream rows of task t for every checkpoint j and adds each fit's
 * mean held-out error and cross-entropy into err and xent
 * (nk x LOGREG_L2S).
 */
static int tune_l2_task(const struct logreg_tune_task *t, int B, int nk,
			const int *ks, int max_iter, double *err, double *xent)
{
	struct logreg_ws w;
	double *th = NULL;
	int rc, j, l;

	rc = ws_alloc(&w, ks[nk - 1] * B, t->D, t->K);
	if (rc != AM_OK)
		return rc;
	th = malloc((size_t)w.m * sizeof *th);
	if (!th) {
		rc = AM_ENOMEM;
		goto out;
	}
	for (j = 0; j < nk; j++) {
		rc = ws_bind(&w, t->X, t->y, ks[j] * B);
		if (rc != AM_OK)
			goto out;
		memset(th, 0, (size_t)w.m * sizeof *th);
		for (l = LOGREG_L2S - 1; l >= 0; l--) {
			double wrong = 0.0, x = 0.0;

			rc = ws_newton(&w, th, logreg_l2(l), max_iter);
			if (rc != AM_OK)
				goto out;
			ws_score(&w, th, t->Xte, t->yte, t->nte, 0, 1, &wrong, &x);
			err[j * LOGREG_L2S + l] += wrong / t->nte;
			xent[j * LOGREG_L2S + l] += x / t->nte;
		}
	}
out:
	free(th);
	ws_free(&w);
	return rc;
}

int logreg_tune_l2s(const struct logreg_tune_task *tasks, int ntasks, int B,
		    int nk, const int *ks, int max_iter, float *l2_out)
{
	double err[LOGREG_KS_MAX * LOGREG_L2S] = { 0 };
	double xent[LOGREG_KS_MAX * LOGREG_L2S] = { 0 };
	float chosen[LOGREG_KS_MAX];
	int i, j, l, best, rc;

	AM_ASSERT(ntasks >= 1 && B >= 1 && nk >= 1 && nk <= LOGREG_KS_MAX);
	AM_ASSERT(max_iter >= 0);
	for (j = 0; j < nk; j++)
		AM_ASSERT(ks[j] >= 1 && (j == 0 || ks[j] > ks[j - 1]));
	for (i = 0; i < ntasks; i++) {
		logreg_args_check(tasks[i].y, ks[nk - 1] * B, tasks[i].D, tasks[i].K);
		AM_ASSERT(tasks[i].nte >= 1);
		rc = tune_l2_task(&tasks[i], B, nk, ks, max_iter, err, xent);
		if (rc != AM_OK)
			return rc;
	}
	for (j = 0; j < nk; j++) {
		const double *e = err + j * LOGREG_L2S, *x = xent + j * LOGREG_L2S;

		best = LOGREG_L2S - 1;
		for (l = LOGREG_L2S - 2; l >= 0; l--)
			if (e[l] < e[best] || (e[l] == e[best] && x[l] < x[best]))
				best = l;
		if (!isfinite(x[best]))
			return AM_ENUMERIC;
		chosen[j] = logreg_l2(best);
	}
	memcpy(l2_out, chosen, (size_t)nk * sizeof *l2_out);
	return AM_OK;
}
