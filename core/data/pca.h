/*
 * pca.h - principal component analysis of images: fitted once on a training
 * split, stored in a model file, applied to every image a client sends.
 *
 * With X the n training rows (pixels scaled to [0, 1]) and m their mean, the
 * covariance is C = (X - m)' (X - m) / n (npix x npix).  A fitted struct pca
 * keeps m, the k leading eigenvalues of C in decreasing order and their
 * eigenvectors as the orthonormal rows of comp (k x npix).  Projection maps
 * a row x to the k features
 *     f_j = (comp_j . (x - m)) * s_j
 * where s_j = 1 / sqrt(max(lambda_j, 1e-6 lambda_0)) when whiten is set (the
 * default after a fit: every feature has unit variance on the training split,
 * like the N(0, 1) inputs the amortizers are meta-trained on) and s_j = 1
 * otherwise (plain coordinates in the component basis).
 *
 * The fit forms C with gemm in blocks of rows, then runs subspace iteration
 * with Rayleigh-Ritz on k + 8 vectors (their Ritz problem solved by
 * pca_symeig, a cyclic Jacobi method) until every kept pair's residual is
 * below PCA_TOL relative to lambda_0.  The start vectors come from a fixed
 * seed, so a fit is deterministic for a given build and BLAS thread count.
 * A component's sign is fixed so that its largest-magnitude entry is
 * positive.
 *
 * A struct pca owns one float block; every array in it points into that
 * block.  Nothing here prints.  Functions are thread-safe on distinct
 * arguments (pca_project may run on one const struct pca from any number of
 * threads).
 */
#ifndef PCA_H
#define PCA_H

#include <stddef.h>

#define PCA_NPIX_MAX 4096	/* inputs per row */
#define PCA_EXTRA 8		/* subspace vectors beyond k */
#define PCA_ITERS_MAX 1000	/* subspace iterations before giving up */
#define PCA_TOL 1e-5		/* residual |C v - lambda v| / lambda_0 */

/* A fitted PCA.  The pointers are views into mem (owned). */
struct pca {
	int npix;		/* inputs per row */
	int k;			/* components kept, 1 <= k <= npix */
	int whiten;		/* 1: unit-variance features; 0: raw coordinates */
	float total_var;	/* trace of C: the variance of all pixels */
	float *mean;		/* npix */
	float *eigval;		/* k, decreasing, >= 0 */
	float *comp;		/* k x npix, orthonormal rows */
	float *scale;		/* k: s_j above, kept up to date by pca_set_whiten */
	float *mproj;		/* k: comp_j . mean */
	int iters;		/* subspace iterations of the fit (0 if unpacked) */
	float resid;		/* the fit's final max residual / lambda_0 */
	float *mem;		/* the block, owned */
};

/*
 * Fits a PCA with k components to the n rows of X (n x npix, row-major;
 * borrowed).  Sets whiten to 1.  On success *out owns new memory (release it
 * with pca_free); on failure *out is untouched.  Returns AM_OK; AM_EINVAL if
 * n < 2, npix is outside [1, PCA_NPIX_MAX] or k outside [1, npix];
 * AM_ENUMERIC if X holds a NaN or Inf, or the iteration does not reach
 * PCA_TOL within PCA_ITERS_MAX iterations; AM_ENOMEM.
 */
int pca_fit(struct pca *out, const float *X, int n, int npix, int k);

/* pca_fit on bytes: X (n x npix) holds pixels 0..255, read as x / 255. */
int pca_fit_u8(struct pca *out, const unsigned char *X, int n, int npix, int k);

/*
 * Projects n rows pix (n x npix, pixels in [0, 1]) to out (n x k) as the
 * header describes, whitened or not as p->whiten says.  Never allocates.
 */
void pca_project(const struct pca *p, const float *pix, int n, float *out);

/* Sets whether pca_project whitens (on != 0) and updates scale. */
void pca_set_whiten(struct pca *p, int on);

/* The fraction of the total pixel variance the k components keep:
 * sum(eigval) / total_var (1 if total_var is 0). */
double pca_variance_kept(const struct pca *p);

/*
 * The floats pca_pack writes for npix inputs and k components:
 * 4 + npix + k + k * npix.  The layout, in order:
 *     [0] npix   [1] k   [2] whiten (0 or 1)   [3] total_var
 *     mean (npix)   eigval (k)   comp (k x npix, row-major)
 * Counts are stored as exact float integers.
 */
size_t pca_floats(int npix, int k);

/* Writes p into out (pca_floats(p->npix, p->k) floats, borrowed). */
void pca_pack(const struct pca *p, float *out);

/*
 * Rebuilds a PCA from n untrusted floats at in (borrowed), as pca_pack
 * wrote them.  Checks the counts, that n is exactly pca_floats of them, that
 * every value is finite, whiten is 0 or 1, the eigenvalues are >= 0 and
 * decreasing, total_var >= 0 and the rows of comp are orthonormal to 1e-3.
 * On success *out owns new memory (pca_free); otherwise *out is untouched
 * and the status is AM_EFORMAT (with a message in err, may be NULL) or
 * AM_ENOMEM.
 */
int pca_unpack(struct pca *out, const float *in, size_t n, char *err,
	       size_t errlen);

/* Releases what p owns and zeroes it.  NULL-safe and idempotent. */
void pca_free(struct pca *p);

/*
 * The eigen decomposition of the symmetric n x n matrix A (row-major,
 * destroyed) by cyclic Jacobi rotations: w (n) receives the eigenvalues in
 * decreasing order and V (n x n) the matching unit eigenvectors as rows.
 * Returns 0, or -1 if the off-diagonal mass has not fallen below 1e-30 of
 * the total after 100 sweeps (w and V then hold the last iterate).  Costs
 * about 4 n^3 flops per sweep: meant for small n (the Ritz problems here,
 * and tests).  Deterministic.
 */
int pca_symeig(double *A, int n, double *w, double *V);

#endif
