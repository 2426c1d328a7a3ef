/*
 * pca.c - the covariance of the training rows, its leading eigenpairs by
 * subspace iteration, projection, and the packed float layout.
 *
 * Precision: the covariance is accumulated in double from float blocks
 * (each block's product in float by gemm), the subspace products run in
 * float through gemm, and everything small (Ritz problem, Gram-Schmidt,
 * residuals) in double.  PCA_TOL sits well above the float round-off of the
 * products, so the iteration always reaches it on sane data.
 */
#include "data/pca.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "base/gemm.h"
#include "base/rng.h"

#define PCA_BLOCK_ROWS 1024	/* rows per covariance product */
#define PCA_SEED 0x5ca1ab1e0ddba11ull
#define PCA_HEAD 4		/* npix, k, whiten, total_var */
#define PCA_ORTH_TOL 1e-3	/* what pca_unpack accepts as orthonormal */

/* ---- the symmetric eigen solver ----------------------------------------- */

/*
 * One Jacobi rotation in the (p, q) plane that zeroes A[p][q]:
 *     theta = (a_qq - a_pp) / (2 a_pq),  t = sgn(theta) / (|theta| +
 *     sqrt(theta^2 + 1)),  c = 1 / sqrt(t^2 + 1),  s = t c;
 *     a_rp' = c a_rp - s a_rq,  a_rq' = s a_rp + c a_rq  (r != p, q),
 *     a_pp' = a_pp - t a_pq,  a_qq' = a_qq + t a_pq,  a_pq' = 0.
 * V holds the eigenvectors as rows, so rows p and q rotate the same way.
 */
static void jacobi_rotate(double *A, double *V, int n, int p, int q)
{
	double app = A[(size_t)p * n + p], aqq = A[(size_t)q * n + q];
	double apq = A[(size_t)p * n + q];
	double theta, t, c, s, x, y;
	int r;

	theta = (aqq - app) / (2.0 * apq);
	if (fabs(theta) > 1e150)
		t = 0.5 / theta;	/* theta^2 would overflow */
	else
		t = (theta < 0 ? -1.0 : 1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
	c = 1.0 / sqrt(t * t + 1.0);
	s = t * c;
	for (r = 0; r < n; r++) {
		if (r == p || r == q)
			continue;
		x = A[(size_t)r * n + p];
		y = A[(size_t)r * n + q];
		A[(size_t)r * n + p] = A[(size_t)p * n + r] = c * x - s * y;
		A[(size_t)r * n + q] = A[(size_t)q * n + r] = s * x + c * y;
	}
	A[(size_t)p * n + p] = app - t * apq;
	A[(size_t)q * n + q] = aqq + t * apq;
	A[(size_t)p * n + q] = A[(size_t)q * n + p] = 0.0;
	for (r = 0; r < n; r++) {
		x = V[(size_t)p * n + r];
		y = V[(size_t)q * n + r];
		V[(size_t)p * n + r] = c * x - s * y;
		V[(size_t)q * n + r] = s * x + c * y;
	}
}

int pca_symeig(double *A, int n, double *w, double *V)
{
	double off, diag, g, x;
	int sweep, p, q, i, j, best, rc = -1;

	AM_ASSERT(A && w && V && n >= 1);
	memset(V, 0, (size_t)n * n * sizeof *V);
	for (i = 0; i < n; i++)
		V[(size_t)i * n + i] = 1.0;
	for (sweep = 0; sweep < 100; sweep++) {
		off = diag = 0.0;
		for (p = 0; p < n; p++) {
			diag += A[(size_t)p * n + p] * A[(size_t)p * n + p];
			for (q = p + 1; q < n; q++)
				off += A[(size_t)p * n + q] * A[(size_t)p * n + q];
		}
		if (off == 0.0 || off <= 1e-30 * (diag + 2.0 * off)) {
			rc = 0;
			break;
		}
		for (p = 0; p < n - 1; p++) {
			for (q = p + 1; q < n; q++) {
				x = A[(size_t)p * n + q];
				if (x == 0.0)
					continue;
				/* An element too small to change either diagonal
				 * entry is rounding noise: drop it rather than
				 * rotate (so the sweeps end). */
				g = 100.0 * fabs(x);
				if (sweep > 3 &&
				    fabs(A[(size_t)p * n + p]) + g == fabs(A[(size_t)p * n + p]) &&
				    fabs(A[(size_t)q * n + q]) + g == fabs(A[(size_t)q * n + q])) {
					A[(size_t)p * n + q] = A[(size_t)q * n + p] = 0.0;
					continue;
				}
				jacobi_rotate(A, V, n, p, q);
			}
		}
	}
	for (i = 0; i < n; i++)
		w[i] = A[(size_t)i * n + i];
	/* Selection sort, decreasing, moving whole rows of V: n row swaps. */
	for (i = 0; i < n - 1; i++) {
		best = i;
		for (j = i + 1; j < n; j++)
			if (w[j] > w[best])
				best = j;
		if (best == i)
			continue;
		x = w[i];
		w[i] = w[best];
		w[best] = x;
		for (j = 0; j < n; j++) {
			x = V[(size_t)i * n + j];
			V[(size_t)i * n + j] = V[(size_t)best * n + j];
			V[(size_t)best * n + j] = x;
		}
	}
	return rc;
}

/* ---- memory ------------------------------------------------------------- */

/* Floats of the block: mean, eigval, comp, scale, mproj. */
static size_t mem_floats(int npix, int k)
{
	return (size_t)npix + (size_t)k * ((size_t)npix + 3);
}

/* Allocates p's block for npix inputs and k components and carves it. */
static int pca_alloc(struct pca *p, int npix, int k)
{
	memset(p, 0, sizeof *p);
	p->mem = calloc(mem_floats(npix, k), sizeof *p->mem);
	if (!p->mem)
		return AM_ENOMEM;
	p->npix = npix;
	p->k = k;
	p->mean = p->mem;
	p->eigval = p->mean + npix;
	p->comp = p->eigval + k;
	p->scale = p->comp + (size_t)k * npix;
	p->mproj = p->scale + k;
	return AM_OK;
}

void pca_free(struct pca *p)
{
	if (!p)
		return;
	free(p->mem);
	memset(p, 0, sizeof *p);
}

void pca_set_whiten(struct pca *p, int on)
{
	double floor;
	int j;

	AM_ASSERT(p && p->mem);
	p->whiten = on ? 1 : 0;
	/* A component with (almost) no variance must not blow up: its
	 * eigenvalue is floored at 1e-6 of the largest. */
	floor = 1e-6 * p->eigval[0];
	for (j = 0; j < p->k; j++) {
		if (!p->whiten || p->eigval[0] <= 0.0f)
			p->scale[j] = 1.0f;
		else
			p->scale[j] = (float)(1.0 / sqrt(fmax(p->eigval[j], floor)));
	}
}

/* mproj_j = comp_j . mean, in double; then the scales. */
static void pca_derive(struct pca *p)
{
	double s;
	int i, j;

	for (j = 0; j < p->k; j++) {
		s = 0.0;
		for (i = 0; i < p->npix; i++)
			s += (double)p->comp[(size_t)j * p->npix + i] * p->mean[i];
		p->mproj[j] = (float)s;
	}
	pca_set_whiten(p, p->whiten);
}

/* ---- the fit ------------------------------------------------------------ */

/* The rows to fit: floats or bytes read as x / 255. */
struct rows {
	const float *f;
	const unsigned char *b;
	int n, npix;
};

static double rows_at(const struct rows *r, size_t i)
{
	return r->f ? (double)r->f[i] : r->b[i] / 255.0;
}

/* mean (npix, double) of the rows; AM_ENUMERIC if a value is not finite. */
static int rows_mean(const struct rows *r, double *mean)
{
	size_t i, d = (size_t)r->npix, total = (size_t)r->n * d;
	double x;

	memset(mean, 0, d * sizeof *mean);
	for (i = 0; i < total; i++) {
		x = rows_at(r, i);
		if (!isfinite(x))
			return AM_ENUMERIC;
		mean[i % d] += x;
	}
	for (i = 0; i < d; i++)
		mean[i] /= r->n;
	return AM_OK;
}

/* C (npix x npix, double) = sum over rows of (x - mean)(x - mean)' / n,
 * in blocks of PCA_BLOCK_ROWS rows; Xb (PCA_BLOCK_ROWS x npix) and Cb
 * (npix x npix) are scratch. */
static void rows_cov(const struct rows *r, const double *mean, double *C,
		     float *Xb, float *Cb)
{
	int d = r->npix, i0, nb, i, j;
	size_t dd = (size_t)d * d, q;

	memset(C, 0, dd * sizeof *C);
	for (i0 = 0; i0 < r->n; i0 += nb) {
		nb = r->n - i0 < PCA_BLOCK_ROWS ? r->n - i0 : PCA_BLOCK_ROWS;
		for (i = 0; i < nb; i++)
			for (j = 0; j < d; j++)
				Xb[(size_t)i * d + j] = (float)(rows_at(r,
					(size_t)(i0 + i) * d + j) - mean[j]);
		/* Cb (d x d) = Xb' (d x nb) * Xb (nb x d) */
		gemm(true, false, d, d, nb, 1.0f, Xb, d, Xb, d, 0.0f, Cb, d);
		for (q = 0; q < dd; q++)
			C[q] += Cb[q];
	}
	for (q = 0; q < dd; q++)
		C[q] /= r->n;
}

static double dot(const double *a, const double *b, int n)
{
	double s = 0.0;
	int i;

	for (i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/*
 * Orthonormalizes the m rows of Q (m x d, m <= d) in order by modified
 * Gram-Schmidt, twice over for accuracy.  A row that vanishes (it lay in
 * the span of the rows before it: a rank-deficient covariance) is replaced
 * by a fresh Gaussian row from r and orthogonalized again.
 */
static void orth_rows(double *Q, int m, int d, struct rng *r)
{
	double *q, nrm, c;
	int i, j, l, pass, tries;

	for (i = 0; i < m; i++) {
		q = Q + (size_t)i * d;
		for (tries = 0;; tries++) {
			AM_ASSERT(tries < 16);
			for (pass = 0; pass < 2; pass++)
				for (j = 0; j < i; j++) {
					c = dot(q, Q + (size_t)j * d, d);
					for (l = 0; l < d; l++)
						q[l] -= c * Q[(size_t)j * d + l];
				}
			nrm = sqrt(dot(q, q, d));
			if (nrm > 1e-300)
				break;
			for (l = 0; l < d; l++)
				q[l] = rng_normal(r);
		}
		for (l = 0; l < d; l++)
			q[l] /= nrm;
	}
}

/* out (m x d) = W (m x m) * In (m x d), in double. */
static void rotate_rows(double *out, const double *W, const double *in, int m,
			int d)
{
	int i, j, l;
	double w;

	memset(out, 0, (size_t)m * d * sizeof *out);
	for (i = 0; i < m; i++)
		for (j = 0; j < m; j++) {
			w = W[(size_t)i * m + j];
			for (l = 0; l < d; l++)
				out[(size_t)i * d + l] += w * in[(size_t)j * d + l];
		}
}

/* The scratch of the subspace iteration. */
struct iter_ws {
	float *Qf, *Zf;		/* m x d: the basis and C times it */
	double *Q, *Z;		/* m x d: the same in double */
	double *Y, *CY;		/* m x d: Ritz vectors and C times them */
	double *H, *W, *th;	/* m x m, m x m, m: the Ritz problem */
};

/*
 * Subspace iteration with Rayleigh-Ritz on the m rows of ws->Qf (orthonormal
 * on entry) for the float covariance Cf (d x d):
 *     Z = Q C,  H = Z Q' = Q C Q',  H = W' diag(th) W,
 *     Y = W Q (Ritz vectors),  CY = W Z = C Y,
 * stop when max_{i<k} |CY_i - th_i Y_i| <= PCA_TOL th_0, else Q = orth(CY).
 * On return Y and th hold the Ritz pairs in decreasing order.  Returns
 * AM_OK or AM_ENUMERIC (no convergence, or a non-finite value).
 */
static int subspace_iterate(const float *Cf, int d, int k, int m,
			    struct iter_ws *ws, struct rng *r, int *iters,
			    double *resid)
{
	size_t md = (size_t)m * d, q;
	double res, e, top;
	int t, i, j, l;

	for (t = 0; t < PCA_ITERS_MAX; t++) {
		/* Zf (m x d) = Qf (m x d) * Cf (d x d) */
		gemm(false, false, m, d, d, 1.0f, ws->Qf, d, Cf, d, 0.0f, ws->Zf, d);
		for (q = 0; q < md; q++) {
			ws->Q[q] = ws->Qf[q];
			ws->Z[q] = ws->Zf[q];
		}
		for (i = 0; i < m; i++)
			for (j = 0; j <= i; j++)
				ws->H[(size_t)i * m + j] = ws->H[(size_t)j * m + i] =
					0.5 * (dot(ws->Z + (size_t)i * d, ws->Q + (size_t)j * d, d) +
					       dot(ws->Z + (size_t)j * d, ws->Q + (size_t)i * d, d));
		for (q = 0; q < (size_t)m * m; q++)
			if (!isfinite(ws->H[q]))
				return AM_ENUMERIC;
		if (pca_symeig(ws->H, m, ws->th, ws->W) != 0)
			return AM_ENUMERIC;
		rotate_rows(ws->Y, ws->W, ws->Q, m, d);
		rotate_rows(ws->CY, ws->W, ws->Z, m, d);
		top = fmax(ws->th[0], 1e-300);
		res = 0.0;
		for (i = 0; i < k; i++) {
			e = 0.0;
			for (l = 0; l < d; l++) {
				double v = ws->CY[(size_t)i * d + l] -
					   ws->th[i] * ws->Y[(size_t)i * d + l];
				e += v * v;
			}
			res = fmax(res, sqrt(e) / top);
		}
		*iters = t + 1;
		*resid = res;
		if (res <= PCA_TOL || ws->th[0] <= 0.0)
			return AM_OK;
		orth_rows(ws->CY, m, d, r);
		for (q = 0; q < md; q++)
			ws->Qf[q] = (float)ws->CY[q];
	}
	return AM_ENUMERIC;
}

static int fit(struct pca *out, const struct rows *rows, int k)
{
	struct pca p;
	struct iter_ws ws;
	struct rng r;
	double *mean = NULL, *C = NULL, tr = 0.0, resid = 0.0, big;
	float *Cf = NULL, *Xb = NULL;
	int d = rows->npix, m, iters = 0, i, j, arg, rc;
	size_t dd = (size_t)d * d, md, q;

	memset(&p, 0, sizeof p);
	memset(&ws, 0, sizeof ws);
	if (rows->n < 2 || d < 1 || d > PCA_NPIX_MAX || k < 1 || k > d)
		return AM_EINVAL;
	m = k + PCA_EXTRA < d ? k + PCA_EXTRA : d;
	md = (size_t)m * d;
	mean = malloc((size_t)d * sizeof *mean);
	C = malloc(dd * sizeof *C);
	Cf = malloc(dd * sizeof *Cf);
	Xb = malloc((size_t)PCA_BLOCK_ROWS * d * sizeof *Xb);
	ws.Qf = malloc(md * sizeof *ws.Qf);
	ws.Zf = malloc(md * sizeof *ws.Zf);
	ws.Q = malloc(md * sizeof *ws.Q);
	ws.Z = malloc(md * sizeof *ws.Z);
	ws.Y = malloc(md * sizeof *ws.Y);
	ws.CY = malloc(md * sizeof *ws.CY);
	ws.H = malloc((size_t)m * m * sizeof *ws.H);
	ws.W = malloc((size_t)m * m * sizeof *ws.W);
	ws.th = malloc((size_t)m * sizeof *ws.th);
	if (!mean || !C || !Cf || !Xb || !ws.Qf || !ws.Zf || !ws.Q || !ws.Z ||
	    !ws.Y || !ws.CY || !ws.H || !ws.W || !ws.th) {
		rc = AM_ENOMEM;
		goto out;
	}
	rc = rows_mean(rows, mean);
	if (rc != AM_OK)
		goto out;
	rows_cov(rows, mean, C, Xb, Cf);
	for (q = 0; q < dd; q++)
		Cf[q] = (float)C[q];
	for (i = 0; i < d; i++)
		tr += C[(size_t)i * d + i];

	/* Deterministic Gaussian start, orthonormalized. */
	rng_seed(&r, PCA_SEED);
	for (q = 0; q < md; q++)
		ws.CY[q] = rng_normal(&r);
	orth_rows(ws.CY, m, d, &r);
	for (q = 0; q < md; q++)
		ws.Qf[q] = (float)ws.CY[q];
	rc = subspace_iterate(Cf, d, k, m, &ws, &r, &iters, &resid);
	if (rc != AM_OK)
		goto out;

	rc = pca_alloc(&p, d, k);
	if (rc != AM_OK)
		goto out;
	p.whiten = 1;
	p.total_var = (float)tr;
	p.iters = iters;
	p.resid = (float)resid;
	for (j = 0; j < d; j++)
		p.mean[j] = (float)mean[j];
	for (i = 0; i < k; i++) {
		const double *y = ws.Y + (size_t)i * d;
		double sign;

		/* The sign: the largest-magnitude entry positive. */
		arg = 0;
		big = -1.0;
		for (j = 0; j < d; j++)
			if (fabs(y[j]) > big) {
				big = fabs(y[j]);
				arg = j;
			}
		sign = y[arg] < 0 ? -1.0 : 1.0;
		for (j = 0; j < d; j++)
			p.comp[(size_t)i * d + j] = (float)(sign * y[j]);
		p.eigval[i] = (float)fmax(ws.th[i], 0.0);
	}
	pca_derive(&p);
	*out = p;
	rc = AM_OK;
out:
	free(ws.th);
	free(ws.W);
	free(ws.H);
	free(ws.CY);
	free(ws.Y);
	free(ws.Z);
	free(ws.Q);
	free(ws.Zf);
	free(ws.Qf);
	free(Xb);
	free(Cf);
	free(C);
	free(mean);
	return rc;
}

int pca_fit(struct pca *out, const float *X, int n, int npix, int k)
{
	struct rows r = { X, NULL, n, npix };

	AM_ASSERT(out && (X || n <= 0));
	return fit(out, &r, k);
}

int pca_fit_u8(struct pca *out, const unsigned char *X, int n, int npix, int k)
{
	struct rows r = { NULL, X, n, npix };

	AM_ASSERT(out && (X || n <= 0));
	return fit(out, &r, k);
}

/* ---- use ---------------------------------------------------------------- */

void pca_project(const struct pca *p, const float *pix, int n, float *out)
{
	int i, j, k;

	AM_ASSERT(p && p->mem && n >= 0 && (n == 0 || (pix && out)));
	k = p->k;
	if (n == 0)
		return;
	/* out (n x k) = pix (n x npix) * comp' (npix x k) */
	gemm(false, true, n, k, p->npix, 1.0f, pix, p->npix, p->comp, p->npix,
	     0.0f, out, k);
	/* comp_j . (x - m) = comp_j . x - comp_j . m, then the scale. */
	for (i = 0; i < n; i++)
		for (j = 0; j < k; j++)
			out[(size_t)i * k + j] = (out[(size_t)i * k + j] - p->mproj[j]) *
						 p->scale[j];
}

double pca_variance_kept(const struct pca *p)
{
	double s = 0.0;
	int j;

	AM_ASSERT(p && p->mem);
	if (p->total_var <= 0.0f)
		return 1.0;
	for (j = 0; j < p->k; j++)
		s += p->eigval[j];
	return s / p->total_var;
}

size_t pca_floats(int npix, int k)
{
	AM_ASSERT(npix >= 1 && k >= 1 && k <= npix);
	return PCA_HEAD + (size_t)npix + (size_t)k + (size_t)k * npix;
}

void pca_pack(const struct pca *p, float *out)
{
	size_t d, k;

	AM_ASSERT(p && p->mem && out);
	d = (size_t)p->npix;
	k = (size_t)p->k;
	out[0] = (float)p->npix;
	out[1] = (float)p->k;
	out[2] = (float)p->whiten;
	out[3] = p->total_var;
	memcpy(out + PCA_HEAD, p->mean, d * sizeof *out);
	memcpy(out + PCA_HEAD + d, p->eigval, k * sizeof *out);
	memcpy(out + PCA_HEAD + d + k, p->comp, k * d * sizeof *out);
}

/* Reads an exact integer count in [lo, hi] from a float; -1 if it is not. */
static int count_at(float v, int lo, int hi)
{
	if (!isfinite(v) || v < (float)lo || v > (float)hi || v != floorf(v))
		return -1;
	return (int)v;
}

int pca_unpack(struct pca *out, const float *in, size_t n, char *err,
	       size_t errlen)
{
	struct pca p;
	const float *comp;
	size_t i, want;
	double g;
	int d, k, a, b, l, rc;

	AM_ASSERT(out && (in || n == 0));
	if (n < PCA_HEAD)
		return am_fail(err, errlen, AM_EFORMAT, "pca: %zu floats, at least %d needed",
			    n, PCA_HEAD);
	d = count_at(in[0], 1, PCA_NPIX_MAX);
	if (d < 0)
		return am_fail(err, errlen, AM_EFORMAT,
			    "pca: npix %g is not an integer in [1, %d]",
			    (double)in[0], PCA_NPIX_MAX);
	k = count_at(in[1], 1, d);
	if (k < 0)
		return am_fail(err, errlen, AM_EFORMAT,
			    "pca: k %g is not an integer in [1, %d]", (double)in[1], d);
	want = pca_floats(d, k);
	if (n != want)
		return am_fail(err, errlen, AM_EFORMAT,
			    "pca: %zu floats, npix %d and k %d take %zu", n, d, k, want);
	for (i = 0; i < n; i++)
		if (!isfinite(in[i]))
			return am_fail(err, errlen, AM_EFORMAT, "pca: float %zu is not finite", i);
	if (in[2] != 0.0f && in[2] != 1.0f)
		return am_fail(err, errlen, AM_EFORMAT, "pca: whiten is %g, not 0 or 1",
			    (double)in[2]);
	if (in[3] < 0.0f)
		return am_fail(err, errlen, AM_EFORMAT, "pca: total variance %g is negative",
			    (double)in[3]);
	for (a = 0; a < k; a++) {
		float e = in[PCA_HEAD + d + a];

		if (e < 0.0f || (a > 0 && e > in[PCA_HEAD + d + a - 1]))
			return am_fail(err, errlen, AM_EFORMAT,
				    "pca: eigenvalue %d (%g) is negative or out of order",
				    a, (double)e);
	}
	comp = in + PCA_HEAD + d + k;
	for (a = 0; a < k; a++)
		for (b = 0; b <= a; b++) {
			g = 0.0;
			for (l = 0; l < d; l++)
				g += (double)comp[(size_t)a * d + l] * comp[(size_t)b * d + l];
			if (fabs(g - (a == b ? 1.0 : 0.0)) > PCA_ORTH_TOL)
				return am_fail(err, errlen, AM_EFORMAT,
					    "pca: components %d and %d are not orthonormal (dot %g)",
					    a, b, g);
		}
	rc = pca_alloc(&p, d, k);
	if (rc != AM_OK)
		return am_fail(err, errlen, rc, "pca: no memory");
	p.whiten = (int)in[2];
	p.total_var = in[3];
	memcpy(p.mean, in + PCA_HEAD, (size_t)d * sizeof *p.mean);
	memcpy(p.eigval, in + PCA_HEAD + d, (size_t)k * sizeof *p.eigval);
	memcpy(p.comp, comp, (size_t)k * d * sizeof *p.comp);
	pca_derive(&p);
	*out = p;
	return AM_OK;
}
