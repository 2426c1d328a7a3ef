/*
 * cmd_data.c - `amort data`: image data sets for the classification tasks.
 *
 *   amort data convert TRAIN-IMAGES TRAIN-LABELS TEST-IMAGES TEST-LABELS
 *                      -o OUT.img [--classes N]
 *       reads four raw (uncompressed) IDX files - the format of the MNIST
 *       and FashionMNIST distributions - and writes one image set file
 *       (schema/img-format.md).  deploy/fetch-data.sh runs it for `make
 *       data`.
 *
 *   amort data info FILE.img [--pca K] [--threads N]
 *       prints the counts per split and class; with --pca, fits a K-component
 *       PCA on the training split and prints the fraction of the pixel
 *       variance it keeps on each split, and the time the fit took.
 *
 * An IDX file is a big-endian header - two zero bytes, the type 0x08
 * (unsigned byte), the number of dimensions - then each dimension as a
 * big-endian u32, then the bytes.  Images are 3-dimensional (count, rows,
 * cols), labels 1-dimensional (count).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/am.h"
#include "base/gemm.h"
#include "io/imgset.h"
#include "data/pca.h"
#include "cli/tool.h"

/* One IDX file in memory. */
struct idx {
	int ndim;
	uint32_t dim[3];
	unsigned char *data;	/* the bytes after the header, owned */
	size_t size;		/* product of dim */
};

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	       (uint32_t)p[3];
}

/*
 * Reads the IDX file at path, which must have ndim dimensions of unsigned
 * bytes, no dimension over its limit (IMGSET_IMAGES_MAX for the count,
 * IMGSET_SIDE_MAX for rows and cols), and exactly the bytes they imply.
 * Prints a message and returns -1 on any failure.
 */
static int idx_read(const char *path, int ndim, struct idx *out)
{
	unsigned char head[16];
	FILE *f;
	size_t hlen = 4 + 4 * (size_t)ndim, size = 1;
	int i, c;

	memset(out, 0, sizeof *out);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "amort: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fread(head, 1, hlen, f) != hlen) {
		fprintf(stderr, "amort: %s: truncated IDX header\n", path);
		goto fail;
	}
	if (head[0] || head[1] || head[2] != 0x08 || head[3] != ndim) {
		fprintf(stderr, "amort: %s: not an IDX file of unsigned bytes with %d dimension%s\n",
			path, ndim, ndim > 1 ? "s" : "");
		goto fail;
	}
	out->ndim = ndim;
	for (i = 0; i < ndim; i++) {
		out->dim[i] = get_be32(head + 4 + 4 * i);
		if (out->dim[i] == 0 ||
		    out->dim[i] > (uint32_t)(i ? IMGSET_SIDE_MAX : IMGSET_IMAGES_MAX)) {
			fprintf(stderr, "amort: %s: dimension %d is %lu, outside [1, %d]\n",
				path, i, (unsigned long)out->dim[i],
				i ? IMGSET_SIDE_MAX : IMGSET_IMAGES_MAX);
			goto fail;
		}
		size *= out->dim[i];	/* at most 2^20 * 2^16: no overflow */
	}
	out->size = size;
	out->data = malloc(size);
	if (!out->data) {
		fprintf(stderr, "amort: %s: no memory for %zu bytes\n", path, size);
		goto fail;
	}
	if (fread(out->data, 1, size, f) != size) {
		fprintf(stderr, "amort: %s: truncated: the header promises %zu bytes\n",
			path, size);
		goto fail;
	}
	c = fgetc(f);
	if (c != EOF) {
		fprintf(stderr, "amort: %s: trailing bytes after %zu bytes of data\n",
			path, size);
		goto fail;
	}
	if (ferror(f)) {
		fprintf(stderr, "amort: %s: read error\n", path);
		goto fail;
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	free(out->data);
	memset(out, 0, sizeof *out);
	return -1;
}

/* Checks that images and labels of one split agree; returns -1 with a
 * message if not. */
static int split_check(const char *what, const struct idx *x, const struct idx *y)
{
	if (x->dim[0] != y->dim[0]) {
		fprintf(stderr, "amort: %s: %lu images but %lu labels\n", what,
			(unsigned long)x->dim[0], (unsigned long)y->dim[0]);
		return -1;
	}
	return 0;
}

static int data_convert(int argc, char **argv)
{
	struct idx f[4];
	struct imgset s;
	const char *in[4], *outpath = NULL;
	char err[256];
	long classes = 0;
	int i, nin = 0, maxlab = 0, rc = 1;

	memset(f, 0, sizeof f);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			outpath = argv[++i];
		} else if (!strcmp(argv[i], "--classes") && i + 1 < argc) {
			if (tool_parse_long("--classes", argv[++i], 1,
					    IMGSET_CLASSES_MAX, &classes) != 0)
				return 2;
		} else if (argv[i][0] != '-' && nin < 4) {
			in[nin++] = argv[i];
		} else {
			nin = -1;
			break;
		}
	}
	if (nin != 4 || !outpath) {
		fprintf(stderr, "usage: amort data convert TRAIN-IMAGES TRAIN-LABELS "
			"TEST-IMAGES TEST-LABELS -o OUT.img [--classes N]\n");
		return 2;
	}
	for (i = 0; i < 4; i++)
		if (idx_read(in[i], i % 2 ? 1 : 3, &f[i]) != 0)
			goto out;
	if (split_check("training split", &f[0], &f[1]) != 0 ||
	    split_check("test split", &f[2], &f[3]) != 0)
		goto out;
	if (f[0].dim[1] != f[2].dim[1] || f[0].dim[2] != f[2].dim[2]) {
		fprintf(stderr, "amort: training images are %lux%lu, test images %lux%lu\n",
			(unsigned long)f[0].dim[1], (unsigned long)f[0].dim[2],
			(unsigned long)f[2].dim[1], (unsigned long)f[2].dim[2]);
		goto out;
	}
	for (i = 1; i < 4; i += 2) {
		size_t j;

		for (j = 0; j < f[i].size; j++)
			if (f[i].data[j] > maxlab)
				maxlab = f[i].data[j];
	}
	if (!classes)
		classes = maxlab + 1;
	if (maxlab >= classes) {
		fprintf(stderr, "amort: label %d found, but --classes is %ld\n",
			maxlab, classes);
		goto out;
	}
	memset(&s, 0, sizeof s);
	s.ntrain = (int)f[0].dim[0];
	s.ntest = (int)f[2].dim[0];
	s.rows = (int)f[0].dim[1];
	s.cols = (int)f[0].dim[2];
	s.npix = s.rows * s.cols;
	s.nclass = (int)classes;
	s.train_x = f[0].data;
	s.train_y = f[1].data;
	s.test_x = f[2].data;
	s.test_y = f[3].data;
	if (imgset_write(outpath, &s, err, sizeof err) != AM_OK) {
		fprintf(stderr, "amort: %s: %s\n", outpath, err);
		goto out;
	}
	printf("%s: %d training and %d test images of %dx%d, %d classes\n",
	       outpath, s.ntrain, s.ntest, s.rows, s.cols, s.nclass);
	rc = 0;
out:
	for (i = 3; i >= 0; i--)
		free(f[i].data);
	return rc;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Prints how many images of each class a split holds. */
static void print_classes(const char *what, const unsigned char *y, int n, int nclass)
{
	int count[IMGSET_CLASSES_MAX] = { 0 };
	int i;

	for (i = 0; i < n; i++)
		count[y[i]]++;
	printf("%-6s %6d images, per class:", what, n);
	for (i = 0; i < nclass; i++)
		printf(" %d", count[i]);
	printf("\n");
}

/* The sum over the d columns of a (n x d) of the squared deviations from
 * the column's mean; m (d) is scratch, it ends holding the column sums. */
static double sum_sq_dev(const float *a, int n, int d, double *m)
{
	double ss = 0.0, v;
	int i, j;

	memset(m, 0, (size_t)d * sizeof *m);
	for (i = 0; i < n; i++)
		for (j = 0; j < d; j++)
			m[j] += a[(size_t)i * d + j];
	for (i = 0; i < n; i++)
		for (j = 0; j < d; j++) {
			v = a[(size_t)i * d + j] - m[j] / n;
			ss += v * v;
		}
	return ss;
}

/*
 * The fraction of the variance of the n images x (bytes) that the
 * components of p capture: sum_j var(f_j) / sum_i var(x_i), with f the
 * unwhitened projections, both variances about the split's own means.
 * Returns -1 when out of memory.
 */
static double kept_on(const struct pca *p, const unsigned char *x, int n)
{
	float *pix = NULL, *f = NULL;
	double *m = NULL, tot, got;
	int d = p->npix, k = p->k, j;
	double kept = -1.0;
	struct pca q = *p;	/* a copy of the views, to project unwhitened */
	float *scale = NULL;

	pix = malloc((size_t)n * d * sizeof *pix);
	f = malloc((size_t)n * k * sizeof *f);
	m = calloc((size_t)(d > k ? d : k), sizeof *m);
	scale = malloc((size_t)k * sizeof *scale);
	if (!pix || !f || !m || !scale || n < 2)
		goto out;
	for (j = 0; j < k; j++)
		scale[j] = 1.0f;
	q.scale = scale;
	imgset_to_float(pix, x, (size_t)n * d);
	pca_project(&q, pix, n, f);
	tot = sum_sq_dev(pix, n, d, m);
	got = sum_sq_dev(f, n, k, m);
	kept = tot > 0.0 ? got / tot : 1.0;
out:
	free(scale);
	free(m);
	free(f);
	free(pix);
	return kept;
}

static int data_info(int argc, char **argv)
{
	struct imgset s;
	struct pca p;
	const char *path = NULL;
	char err[256];
	long k = 0, threads = 1;
	double t0, t1;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pca") && i + 1 < argc) {
			if (tool_parse_long("--pca", argv[++i], 1, PCA_NPIX_MAX, &k) != 0)
				return 2;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (tool_parse_long("--threads", argv[++i], 1, 64, &threads) != 0)
				return 2;
		} else if (argv[i][0] != '-' && !path) {
			path = argv[i];
		} else {
			path = NULL;
			break;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: amort data info FILE.img [--pca K] [--threads N]\n");
		return 2;
	}
	rc = imgset_read(path, &s, err, sizeof err);
	if (rc != AM_OK) {
		fprintf(stderr, "amort: %s: %s\n", path, err);
		return 1;
	}
	printf("%s: %dx%d pixels, %d classes\n", path, s.rows, s.cols, s.nclass);
	print_classes("train", s.train_y, s.ntrain, s.nclass);
	print_classes("test", s.test_y, s.ntest, s.nclass);
	if (k > s.npix) {
		fprintf(stderr, "amort: --pca %ld is more than the %d pixels\n", k, s.npix);
		imgset_free(&s);
		return 2;
	}
	if (k > 0) {
		gemm_set_threads((int)threads);
		t0 = now_seconds();
		rc = pca_fit_u8(&p, s.train_x, s.ntrain, s.npix, (int)k);
		t1 = now_seconds();
		if (rc != AM_OK) {
			fprintf(stderr, "amort: PCA: %s\n", am_strerror(rc));
			imgset_free(&s);
			return 1;
		}
		printf("pca: %ld components in %.2f s (%d iterations, residual %.2g, %d thread%s)\n",
		       k, t1 - t0, p.iters, (double)p.resid, (int)threads,
		       threads > 1 ? "s" : "");
		printf("pca: eigenvalues %.4g (first) .. %.4g (last), total variance %.4g\n",
		       (double)p.eigval[0], (double)p.eigval[k - 1], (double)p.total_var);
		printf("pca: variance kept: train %.4f (eigenvalues %.4f), test %.4f\n",
		       kept_on(&p, s.train_x, s.ntrain), pca_variance_kept(&p),
		       s.ntest >= 2 ? kept_on(&p, s.test_x, s.ntest) : NAN);
		pca_free(&p);
	}
	imgset_free(&s);
	return 0;
}

int tool_data(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "convert"))
		return data_convert(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "info"))
		return data_info(argc - 1, argv + 1);
	fprintf(stderr, "usage: amort data convert TRAIN-IMAGES TRAIN-LABELS TEST-IMAGES "
		"TEST-LABELS -o OUT.img [--classes N]\n"
		"       amort data info FILE.img [--pca K] [--threads N]\n");
	return 2;
}
