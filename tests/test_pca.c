/*
 * test_pca.c - the Jacobi eigen solver, and PCA on synthetic data with known
 * principal directions: the components match the exact eigenvectors of the
 * sample covariance (computed here in double with pca_symeig) and span the
 * planted subspace, are orthonormal, the eigenvalues are ordered and close,
 * the mean projects to 0, whitened features have unit variance, fits are
 * deterministic, and packed PCAs round-trip while bad ones are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "data/pca.h"
#include "base/rng.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static double *dalloc(size_t n)
{
	double *p = calloc(n ? n : 1, sizeof *p);

	assert_non_null(p);
	return p;
}

/* Orthonormalizes the m rows of U (m x d) by Gram-Schmidt, in place. */
static void gram_schmidt(double *U, int m, int d)
{
	int i, j, l;
	double c, n;

	for (i = 0; i < m; i++) {
		for (j = 0; j < i; j++) {
			c = 0.0;
			for (l = 0; l < d; l++)
				c += U[i * d + l] * U[j * d + l];
			for (l = 0; l < d; l++)
				U[i * d + l] -= c * U[j * d + l];
		}
		n = 0.0;
		for (l = 0; l < d; l++)
			n += U[i * d + l] * U[i * d + l];
		n = sqrt(n);
		assert_true(n > 1e-6);
		for (l = 0; l < d; l++)
			U[i * d + l] /= n;
	}
}

/* Requires the k rows of a (k x d, float) to be orthonormal within tol. */
static void assert_orthonormal(const float *a, int k, int d, double tol)
{
	int i, j, l;
	double g;

	for (i = 0; i < k; i++)
		for (j = 0; j <= i; j++) {
			g = 0.0;
			for (l = 0; l < d; l++)
				g += (double)a[i * d + l] * a[j * d + l];
			if (fabs(g - (i == j)) > tol)
				fail_msg("rows %d and %d: dot %.3g", i, j, g);
		}
}

/*
 * Synthetic data: n rows of dimension d,
 *     x = mu + sum_{j < r} z_j s_j u_j + noise * e,   z, e ~ N(0, 1),
 * with orthonormal directions u (r x d) and mu uniform in [0.2, 0.8].
 */
struct synth {
	int n, d, r;
	float *X;	/* n x d */
	double *U;	/* r x d */
	double *mu;	/* d */
};

static void synth_make(struct synth *s, int n, int d, const double *sd, int r,
		       double noise, uint64_t seed)
{
	struct rng g;
	double x;
	int i, j, l;

	rng_seed(&g, seed);
	s->n = n;
	s->d = d;
	s->r = r;
	s->X = tu_alloc((size_t)n * d);
	s->U = dalloc((size_t)(r ? r : 1) * d);
	s->mu = dalloc((size_t)d);
	for (i = 0; i < r * d; i++)
		s->U[i] = rng_normal(&g);
	gram_schmidt(s->U, r, d);
	for (l = 0; l < d; l++)
		s->mu[l] = 0.2 + 0.6 * rng_uniform(&g);
	for (i = 0; i < n; i++) {
		double row[256];

		assert_true(d <= 256);
		for (l = 0; l < d; l++)
			row[l] = s->mu[l] + noise * rng_normal(&g);
		for (j = 0; j < r; j++) {
			x = sd[j] * rng_normal(&g);
			for (l = 0; l < d; l++)
				row[l] += x * s->U[j * d + l];
		}
		for (l = 0; l < d; l++)
			s->X[(size_t)i * d + l] = (float)row[l];
	}
}

static void synth_free(struct synth *s)
{
	free(s->X);
	free(s->U);
	free(s->mu);
}

/* The exact sample covariance of s->X in double (divided by n), its
 * eigenvalues w (decreasing) and eigenvectors V (rows), and its trace. */
static double exact_eig(const struct synth *s, double *w, double *V)
{
	double *C = dalloc((size_t)s->d * s->d), *m = dalloc((size_t)s->d), tr = 0.0;
	int i, a, b, d = s->d;

	for (i = 0; i < s->n; i++)
		for (a = 0; a < d; a++)
			m[a] += s->X[(size_t)i * d + a];
	for (a = 0; a < d; a++)
		m[a] /= s->n;
	for (i = 0; i < s->n; i++)
		for (a = 0; a < d; a++)
			for (b = 0; b < d; b++)
				C[a * d + b] += (s->X[(size_t)i * d + a] - m[a]) *
						(s->X[(size_t)i * d + b] - m[b]);
	for (a = 0; a < d * d; a++)
		C[a] /= s->n;
	for (a = 0; a < d; a++)
		tr += C[a * d + a];
	assert_int_equal(pca_symeig(C, d, w, V), 0);
	free(m);
	free(C);
	return tr;
}

/* ---- the eigen solver --------------------------------------------------- */

/* A = Q' diag(lambda) Q with a known spectrum, including a repeated and a
 * negative eigenvalue. */
static void test_symeig(void **state)
{
	enum { N = 12 };
	static const double lambda[N] = { 9, 7, 7, 5, 3, 2, 1, 0.5, 0.25, 0, -1, -4 };
	struct rng g;
	double *Q = dalloc(N * N), *A = dalloc(N * N), *A0 = dalloc(N * N);
	double *V = dalloc(N * N), w[N], s;
	int i, j, l;

	(void)state;
	rng_seed(&g, 7);
	for (i = 0; i < N * N; i++)
		Q[i] = rng_normal(&g);
	gram_schmidt(Q, N, N);
	for (i = 0; i < N; i++)
		for (j = 0; j < N; j++) {
			s = 0.0;
			for (l = 0; l < N; l++)
				s += Q[l * N + i] * lambda[l] * Q[l * N + j];
			A[i * N + j] = A0[i * N + j] = s;
		}
	assert_int_equal(pca_symeig(A, N, w, V), 0);
	for (i = 0; i < N; i++)
		assert_float_equal(w[i], lambda[i], 1e-10);
	/* A0 v_i = w_i v_i, and V orthonormal. */
	for (i = 0; i < N; i++) {
		for (j = 0; j < N; j++) {
			s = 0.0;
			for (l = 0; l < N; l++)
				s += A0[j * N + l] * V[i * N + l];
			assert_float_equal(s, w[i] * V[i * N + j], 1e-10);
		}
		for (j = 0; j <= i; j++) {
			s = 0.0;
			for (l = 0; l < N; l++)
				s += V[i * N + l] * V[j * N + l];
			assert_float_equal(s, i == j, 1e-12);
		}
	}
	/* A diagonal matrix needs no rotation; a 1 x 1 one neither. */
	memset(A, 0, N * N * sizeof *A);
	for (i = 0; i < N; i++)
		A[i * N + i] = i;
	assert_int_equal(pca_symeig(A, N, w, V), 0);
	for (i = 0; i < N; i++) {
		assert_true(w[i] == N - 1 - i);
		assert_true(V[i * N + (N - 1 - i)] == 1.0);
	}
	A[0] = -3.0;
	assert_int_equal(pca_symeig(A, 1, w, V), 0);
	assert_true(w[0] == -3.0 && V[0] == 1.0);
	free(V);
	free(A0);
	free(A);
	free(Q);
}

/* ---- the fit ------------------------------------------------------------ */

static const double planted_sd[6] = { 3.0, 2.4, 1.9, 1.5, 1.1, 0.8 };

/*
 * d = 48, n = 3000, six planted directions plus isotropic noise; k = 4, so
 * the iteration runs on 12 of the 48 dimensions.
 */
static void test_fit_synthetic(void **state)
{
	enum { N = 3000, D = 48, K = 4 };
	struct synth s;
	struct pca p;
	double *w = dalloc(D), *V = dalloc(D * D), tr, dotv, proj, sum;
	int i, j, l;

	(void)state;
	synth_make(&s, N, D, planted_sd, 6, 0.1, 11);
	assert_int_equal(pca_fit(&p, s.X, N, D, K), AM_OK);
	tr = exact_eig(&s, w, V);
	assert_int_equal(p.npix, D);
	assert_int_equal(p.k, K);
	assert_int_equal(p.whiten, 1);
	assert_true(p.iters >= 1 && p.iters <= PCA_ITERS_MAX);
	assert_true(p.resid <= PCA_TOL);
	assert_orthonormal(p.comp, K, D, 1e-5);
	assert_float_equal(p.total_var, tr, 1e-4 * tr);
	for (j = 0; j < K; j++) {
		/* Eigenvalues: ordered, equal to the exact ones of the sample
		 * covariance, and near the planted variances (+ noise). */
		if (j > 0)
			assert_true(p.eigval[j] <= p.eigval[j - 1]);
		assert_float_equal(p.eigval[j], w[j], 1e-4 * w[0]);
		assert_float_equal(p.eigval[j], planted_sd[j] * planted_sd[j] + 0.01,
				   0.12 * planted_sd[j] * planted_sd[j]);
		/* Components: the exact eigenvectors up to sign... */
		dotv = 0.0;
		for (l = 0; l < D; l++)
			dotv += p.comp[j * D + l] * V[j * D + l];
		assert_true(fabs(dotv) > 1.0 - 1e-6);
		/* ...and inside the planted subspace. */
		sum = 0.0;
		for (i = 0; i < 6; i++) {
			proj = 0.0;
			for (l = 0; l < D; l++)
				proj += p.comp[j * D + l] * s.U[i * D + l];
			sum += proj * proj;
		}
		assert_true(sum > 0.999);
	}
	for (l = 0; l < D; l++)
		assert_float_equal(p.mean[l], s.mu[l], 0.15);
	assert_float_equal(pca_variance_kept(&p), (w[0] + w[1] + w[2] + w[3]) / tr, 1e-4);
	pca_free(&p);
	synth_free(&s);
	free(V);
	free(w);
}

/* The mean projects to 0; whitened training features have mean 0 and unit
 * variance, raw ones variance eigval. */
static void test_project(void **state)
{
	enum { N = 2000, D = 32, K = 5 };
	struct synth s;
	struct pca p;
	float *f = tu_alloc((size_t)N * K), z[K];
	double m[K], v[K];
	int i, j, pass;

	(void)state;
	synth_make(&s, N, D, planted_sd, 6, 0.05, 12);
	assert_int_equal(pca_fit(&p, s.X, N, D, K), AM_OK);
	for (pass = 0; pass < 2; pass++) {
		pca_set_whiten(&p, pass == 0);
		pca_project(&p, p.mean, 1, z);
		for (j = 0; j < K; j++)
			assert_float_equal(z[j], 0.0, 1e-5);
		pca_project(&p, s.X, N, f);
		for (j = 0; j < K; j++) {
			m[j] = v[j] = 0.0;
			for (i = 0; i < N; i++)
				m[j] += f[i * K + j];
			m[j] /= N;
			for (i = 0; i < N; i++)
				v[j] += (f[i * K + j] - m[j]) * (f[i * K + j] - m[j]);
			v[j] /= N;
			assert_float_equal(m[j], 0.0, 1e-4);
			assert_float_equal(v[j], pass == 0 ? 1.0 : p.eigval[j],
					   1e-3 * (pass == 0 ? 1.0 : p.eigval[j]));
		}
	}
	/* n = 0 is a no-op. */
	pca_project(&p, NULL, 0, NULL);
	pca_free(&p);
	free(f);
	synth_free(&s);
}

/* Two fits of the same rows give the same bytes. */
static void test_deterministic(void **state)
{
	enum { N = 1500, D = 40, K = 6 };
	struct synth s;
	struct pca a, b;
	float *pa, *pb;
	size_t n = pca_floats(D, K);

	(void)state;
	synth_make(&s, N, D, planted_sd, 6, 0.2, 13);
	assert_int_equal(pca_fit(&a, s.X, N, D, K), AM_OK);
	assert_int_equal(pca_fit(&b, s.X, N, D, K), AM_OK);
	pa = tu_alloc(n);
	pb = tu_alloc(n);
	pca_pack(&a, pa);
	pca_pack(&b, pb);
	assert_memory_equal(pa, pb, n * sizeof *pa);
	assert_int_equal(a.iters, b.iters);
	free(pb);
	free(pa);
	pca_free(&b);
	pca_free(&a);
	synth_free(&s);
}

/* k + 8 >= npix: the iteration spans the whole space and is exact at once. */
static void test_fit_full_space(void **state)
{
	enum { N = 500, D = 6, K = 4 };
	static const double sd[3] = { 2.0, 1.0, 0.5 };
	struct synth s;
	struct pca p;
	double w[D], V[D * D], dotv;
	int j, l;

	(void)state;
	synth_make(&s, N, D, sd, 3, 0.1, 14);
	assert_int_equal(pca_fit(&p, s.X, N, D, K), AM_OK);
	exact_eig(&s, w, V);
	assert_orthonormal(p.comp, K, D, 1e-5);
	for (j = 0; j < K; j++) {
		assert_float_equal(p.eigval[j], w[j], 1e-4 * w[0]);
		dotv = 0.0;
		for (l = 0; l < D; l++)
			dotv += p.comp[j * D + l] * V[j * D + l];
		assert_true(fabs(dotv) > 1.0 - 1e-5);
	}
	pca_free(&p);
	synth_free(&s);
}

/* Rank-deficient rows (a 2-dimensional cloud in 10 dimensions, k = 5) and
 * identical rows: zero eigenvalues, orthonormal components, finite
 * scales. */
static void test_fit_degenerate(void **state)
{
	enum { N = 400, D = 10, K = 5 };
	static const double sd[2] = { 1.0, 0.5 };
	struct synth s;
	struct pca p;
	float *X, z[K];
	int i, j;

	(void)state;
	synth_make(&s, N, D, sd, 2, 0.0, 15);
	assert_int_equal(pca_fit(&p, s.X, N, D, K), AM_OK);
	assert_orthonormal(p.comp, K, D, 1e-5);
	assert_true(p.eigval[1] > 0.1f);
	for (j = 2; j < K; j++)
		assert_true(p.eigval[j] < 1e-5f * p.eigval[0]);
	for (j = 0; j < K; j++)
		assert_true(isfinite(p.scale[j]) && p.scale[j] > 0.0f);
	pca_free(&p);

	X = tu_alloc((size_t)N * D);
	for (i = 0; i < N * D; i++)
		X[i] = 0.25f;
	assert_int_equal(pca_fit(&p, X, N, D, K), AM_OK);
	assert_true(p.total_var == 0.0f);
	assert_float_equal(pca_variance_kept(&p), 1.0, 0.0);
	assert_orthonormal(p.comp, K, D, 1e-5);
	pca_project(&p, X, 1, z);
	for (j = 0; j < K; j++) {
		assert_true(p.eigval[j] == 0.0f && p.scale[j] == 1.0f);
		assert_float_equal(z[j], 0.0, 1e-6);
	}
	pca_free(&p);
	free(X);
	synth_free(&s);
}

/* Bytes are read as x / 255: the same fit as on those floats. */
static void test_fit_u8(void **state)
{
	enum { N = 800, D = 20, K = 3 };
	unsigned char *b = malloc((size_t)N * D);
	float *X = tu_alloc((size_t)N * D);
	struct pca pf, pb;
	uint64_t seed = 99;
	int i, j;

	(void)state;
	assert_non_null(b);
	tu_fill(X, (size_t)N * D, 0.0f, 1.0f, &seed);
	/* Some structure: the first pixels follow each other. */
	for (i = 0; i < N; i++)
		for (j = 1; j < 4; j++)
			X[i * D + j] = X[i * D];
	for (i = 0; i < N * D; i++) {
		b[i] = (unsigned char)lrintf(X[i] * 255.0f);
		X[i] = b[i] / 255.0f;
	}
	assert_int_equal(pca_fit_u8(&pb, b, N, D, K), AM_OK);
	assert_int_equal(pca_fit(&pf, X, N, D, K), AM_OK);
	for (j = 0; j < K; j++)
		assert_float_equal(pb.eigval[j], pf.eigval[j], 1e-5);
	for (i = 0; i < K * D; i++)
		assert_float_equal(pb.comp[i], pf.comp[i], 1e-3);
	assert_float_equal(pb.eigval[0], 4.0 / 12.0, 0.05);	/* 4 x var U(0,1) */
	pca_free(&pf);
	pca_free(&pb);
	free(X);
	free(b);
}

static void test_fit_refuses(void **state)
{
	enum { N = 10, D = 4 };
	float X[N * D];
	struct pca p;
	uint64_t seed = 5;

	(void)state;
	tu_fill(X, N * D, 0.0f, 1.0f, &seed);
	memset(&p, 0x5a, sizeof p);
	assert_int_equal(pca_fit(&p, X, 1, D, 2), AM_EINVAL);
	assert_int_equal(pca_fit(&p, X, N, D, 0), AM_EINVAL);
	assert_int_equal(pca_fit(&p, X, N, D, D + 1), AM_EINVAL);
	assert_int_equal(pca_fit(&p, X, N, 0, 1), AM_EINVAL);
	assert_int_equal(pca_fit(&p, X, N, PCA_NPIX_MAX + 1, 1), AM_EINVAL);
	X[17] = NAN;
	assert_int_equal(pca_fit(&p, X, N, D, 2), AM_ENUMERIC);
	X[17] = INFINITY;
	assert_int_equal(pca_fit(&p, X, N, D, 2), AM_ENUMERIC);
	{
		unsigned char sentinel[sizeof p];

		memset(sentinel, 0x5a, sizeof sentinel);
		assert_memory_equal(&p, sentinel, sizeof p);
	}
	pca_free(NULL);
}

/* ---- packing ------------------------------------------------------------ */

static void fit_small(struct pca *p, float **packed, size_t *n)
{
	enum { N = 600, D = 16, K = 3 };
	struct synth s;

	synth_make(&s, N, D, planted_sd, 4, 0.1, 21);
	assert_int_equal(pca_fit(p, s.X, N, D, K), AM_OK);
	*n = pca_floats(D, K);
	assert_int_equal(*n, 4 + D + K + K * D);
	*packed = tu_alloc(*n);
	pca_pack(p, *packed);
	synth_free(&s);
}

static void test_pack_roundtrip(void **state)
{
	struct pca p, q;
	float *buf, x[16], fa[3], fb[3];
	uint64_t seed = 3;
	char err[128];
	size_t n;
	int pass, j;

	(void)state;
	fit_small(&p, &buf, &n);
	/* The documented layout. */
	assert_true(buf[0] == 16.0f && buf[1] == 3.0f && buf[2] == 1.0f);
	assert_true(buf[3] == p.total_var);
	assert_memory_equal(buf + 4, p.mean, 16 * sizeof *buf);
	assert_memory_equal(buf + 20, p.eigval, 3 * sizeof *buf);
	assert_memory_equal(buf + 23, p.comp, 48 * sizeof *buf);
	tu_fill(x, 16, 0.0f, 1.0f, &seed);
	for (pass = 0; pass < 2; pass++) {
		pca_set_whiten(&p, pass == 0);
		pca_pack(&p, buf);
		assert_true(buf[2] == (pass == 0 ? 1.0f : 0.0f));
		assert_int_equal(pca_unpack(&q, buf, n, err, sizeof err), AM_OK);
		assert_int_equal(q.whiten, p.whiten);
		assert_int_equal(q.iters, 0);
		assert_memory_equal(q.mean, p.mean, 16 * sizeof *buf);
		assert_memory_equal(q.eigval, p.eigval, 3 * sizeof *buf);
		assert_memory_equal(q.comp, p.comp, 48 * sizeof *buf);
		pca_project(&p, x, 1, fa);
		pca_project(&q, x, 1, fb);
		for (j = 0; j < 3; j++)
			assert_true(fa[j] == fb[j]);
		pca_free(&q);
	}
	free(buf);
	pca_free(&p);
}

/* Copies the good packing, breaks float i, and requires a refusal. */
static void broken(const float *good, size_t n, size_t len, size_t i, float v,
		   const char *what)
{
	struct pca q;
	float *b = tu_alloc(n + 1);
	char err[256] = "";

	memcpy(b, good, n * sizeof *b);
	if (i < n)
		b[i] = v;
	memset(&q, 0x5a, sizeof q);
	if (pca_unpack(&q, b, len, err, sizeof err) != AM_EFORMAT)
		fail_msg("%s: accepted", what);
	assert_true(err[0] != '\0');
	assert_true(((unsigned char *)&q)[0] == 0x5a);
	free(b);
}

static void test_unpack_refuses(void **state)
{
	struct pca p;
	float *buf;
	size_t n;

	(void)state;
	fit_small(&p, &buf, &n);
	broken(buf, n, n - 1, n, 0, "one float short");
	broken(buf, n, n + 1, n, 0, "one float over");
	broken(buf, n, 2, n, 0, "no header");
	broken(buf, n, n, 0, 16.5f, "npix not an integer");
	broken(buf, n, n, 0, 0.0f, "npix 0");
	broken(buf, n, n, 0, 1e9f, "npix huge");
	broken(buf, n, n, 0, NAN, "npix NaN");
	broken(buf, n, n, 1, 17.0f, "k over npix");
	broken(buf, n, n, 1, 2.0f, "k disagrees with the length");
	broken(buf, n, n, 2, 0.5f, "whiten 0.5");
	broken(buf, n, n, 3, -1.0f, "negative total variance");
	broken(buf, n, n, 7, INFINITY, "an infinite mean");
	broken(buf, n, n, 21, buf[20] * 2.0f, "eigenvalues out of order");
	broken(buf, n, n, 22, -1e-3f, "a negative eigenvalue");
	broken(buf, n, n, 23, buf[23] + 0.1f, "a component not of unit length");
	broken(buf, n, n, 23 + 16, buf[23], "components not orthogonal");
	free(buf);
	pca_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symeig),
		cmocka_unit_test(test_fit_synthetic),
		cmocka_unit_test(test_project),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_fit_full_space),
		cmocka_unit_test(test_fit_degenerate),
		cmocka_unit_test(test_fit_u8),
		cmocka_unit_test(test_fit_refuses),
		cmocka_unit_test(test_pack_roundtrip),
		cmocka_unit_test(test_unpack_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
