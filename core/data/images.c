/*
 * images.c - image datasets as classification task sources (images.h).
 */
#include "data/images.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/am.h"

void images_close(struct images *t)
{
	imgset_free(&t->set);
	pca_free(&t->pca);
	free(t->train_f);
	free(t->test_f);
	free(t->rows);
	memset(t, 0, sizeof *t);
}

/* Projects n images (bytes) into f (n x SOURCE_XMAX), in blocks. */
static int project(const struct pca *p, const unsigned char *px, int n,
		   int npix, float *f)
{
	enum { BLK = 256 };
	float *buf = malloc((size_t)BLK * npix * sizeof *buf);
	float *out = malloc((size_t)BLK * p->k * sizeof *out);
	int i, j, m;

	if (!buf || !out) {
		free(buf);
		free(out);
		return -1;
	}
	for (i = 0; i < n; i += BLK) {
		m = n - i < BLK ? n - i : BLK;
		imgset_to_float(buf, px + (size_t)i * npix, (size_t)m * npix);
		pca_project(p, buf, m, out);
		for (j = 0; j < m; j++) {
			float *row = f + (size_t)(i + j) * SOURCE_XMAX;

			memset(row, 0, SOURCE_XMAX * sizeof *f);
			memcpy(row, out + (size_t)j * p->k,
			       (size_t)p->k * sizeof *f);
		}
	}
	free(buf);
	free(out);
	return 0;
}

/* The half of a split image i belongs to: a fixed hash of its
 * index, so the halves are random whatever order the file keeps (MNIST's
 * interleaves the classes, so index parity would split by class). */
static int half_of(int i)
{
	uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull;

	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 29;
	return (int)(x & 1);
}

/* Fills a source over the rows of a split: all of them (half < 0) or one
 * half of them. */
static void split_source(struct source_images *g, const float *f,
			 const unsigned char *y, int n, int half, int nclass,
			 int dim, int kmin, int kmax, int **mem)
{
	int c, i;

	memset(g, 0, sizeof *g);
	g->n = n;
	g->dim = dim;
	g->nclass = nclass;
	g->X = f;
	g->y = y;
	g->kmin = kmin;
	g->kmax = kmax;
	for (c = 0; c < nclass; c++) {
		g->cls_rows[c] = *mem;
		for (i = 0; i < n; i++)
			if (y[i] == c && (half < 0 || half_of(i) == half))
				*(*mem)++ = i;
		g->cls_count[c] = (int)(*mem - g->cls_rows[c]);
	}
}

int images_open(struct images *t, const char *dataset, const struct pca *use,
		 int kmin, int kmax, char *err, size_t errlen)
{
	return images_open_k(t, dataset, use, kmin, kmax, SOURCE_XMAX, err,
			      errlen);
}

int images_open_k(struct images *t, const char *dataset, const struct pca *use,
		   int kmin, int kmax, int k, char *err, size_t errlen)
{
	char path[256], msg[256];
	int *mem, c, rc;
	float *packed = NULL;

	memset(t, 0, sizeof *t);
	snprintf(path, sizeof path, "%s/%s.img", IMAGES_DIR, dataset);
	if (access(path, R_OK) != 0)
		return am_fail(err, errlen, AM_EIO,
			       "%s: %s (run `make data` first)", path,
			       strerror(errno));
	rc = imgset_read(path, &t->set, msg, sizeof msg);
	if (rc != AM_OK)
		return am_fail(err, errlen, rc, "%s: %s", path, msg);
	if (t->set.nclass > LINCLASS_KMAX || t->set.ntest < 2 ||
	    kmax > t->set.nclass || kmin < 2 || kmin > kmax) {
		rc = am_fail(err, errlen, AM_EINVAL, "%s: %d classes, %d "
			     "test images: cannot make tasks of %d to %d "
			     "classes", path, t->set.nclass, t->set.ntest, kmin,
			     kmax);
		goto fail;
	}
	if (use) {
		size_t n = pca_floats(use->npix, use->k);

		packed = malloc(n * sizeof *packed);
		if (!packed)
			goto oom;
		pca_pack(use, packed);
		rc = pca_unpack(&t->pca, packed, n, msg, sizeof msg);
		if (rc != AM_OK) {
			am_fail(err, errlen, rc, "PCA: %s", msg);
			goto fail;
		}
		free(packed);
		packed = NULL;
		if (t->pca.npix != t->set.npix) {
			rc = am_fail(err, errlen, AM_EINVAL, "%s: %d pixels "
				     "per image, the model's PCA takes %d",
				     path, t->set.npix, t->pca.npix);
			goto fail;
		}
	} else {
		rc = k < 1 || k > SOURCE_XMAX ? AM_EINVAL :
		     pca_fit_u8(&t->pca, t->set.train_x, t->set.ntrain,
				t->set.npix, k);
		if (rc != AM_OK) {
			am_fail(err, errlen, rc, "%s: the PCA fit failed",
				path);
			goto fail;
		}
	}
	t->train_f = malloc((size_t)t->set.ntrain * SOURCE_XMAX * sizeof(float));
	t->test_f = malloc((size_t)t->set.ntest * SOURCE_XMAX * sizeof(float));
	t->rows = malloc((size_t)(2 * t->set.ntrain + t->set.ntest) * sizeof(int));
	if (!t->train_f || !t->test_f || !t->rows ||
	    project(&t->pca, t->set.train_x, t->set.ntrain, t->set.npix, t->train_f) ||
	    project(&t->pca, t->set.test_x, t->set.ntest, t->set.npix, t->test_f))
		goto oom;
	mem = t->rows;
	split_source(&t->train, t->train_f, t->set.train_y, t->set.ntrain, -1,
		     t->set.nclass, t->pca.k, kmin, kmax, &mem);
	split_source(&t->train_even, t->train_f, t->set.train_y, t->set.ntrain,
		     0, t->set.nclass, t->pca.k, kmin, kmax, &mem);
	split_source(&t->train_odd, t->train_f, t->set.train_y, t->set.ntrain,
		     1, t->set.nclass, t->pca.k, kmin, kmax, &mem);
	split_source(&t->test_even, t->test_f, t->set.test_y, t->set.ntest, 0,
		     t->set.nclass, t->pca.k, kmin, kmax, &mem);
	split_source(&t->test_odd, t->test_f, t->set.test_y, t->set.ntest, 1,
		     t->set.nclass, t->pca.k, kmin, kmax, &mem);
	for (c = 0; c < t->set.nclass; c++)
		if (!t->train_even.cls_count[c] || !t->train_odd.cls_count[c] ||
		    !t->test_even.cls_count[c] || !t->test_odd.cls_count[c]) {
			rc = am_fail(err, errlen, AM_EINVAL, "%s: class %d has "
				     "no images in a split", path, c);
			goto fail;
		}
	return AM_OK;
oom:
	rc = am_fail(err, errlen, AM_ENOMEM, "out of memory");
fail:
	free(packed);
	images_close(t);
	return rc;
}
