/*
 * images.h - an image dataset as classification task sources: the binary
 * from `make data` (imgset.h), projected by a PCA (pca.h) to SOURCE_XMAX
 * whitened features, with per-class row lists (struct source_images, for
 * source_sample).
 *
 * The training split (meta-training, and the tuning tasks of an
 * evaluation), whole and cut in two halves, and the test split cut in two
 * halves, by a fixed hash of the image index: one half feeds a task's
 * stream, the other its held-out rows, so the two never share an image.
 * Evaluation always splits; meta-training does when its recipe says
 * `disjoint = 1`.
 *
 * A struct images owns the images, the features, the row lists and its
 * copy of the PCA; its struct source_images point into them and live
 * until images_close.  Reads IMAGES_DIR/<dataset>.img; never prints
 * (errors come back as a message in err).  Not thread-safe on one
 * struct images while it opens or closes; its sources may then be read
 * from any number of threads.
 */
#ifndef IMAGES_H
#define IMAGES_H

#include <stddef.h>

#include "data/pca.h"
#include "data/source.h"
#include "io/imgset.h"

#define IMAGES_DIR "data"

struct images {
	struct imgset set;
	struct pca pca;			/* owned copy */
	float *train_f, *test_f;	/* features, (n x SOURCE_XMAX) */
	int *rows;			/* per-class row lists (all splits) */
	struct source_images train, train_even, train_odd; /* even/odd: */
	struct source_images test_even, test_odd;	   /* the halves */
};

/*
 * Loads IMAGES_DIR/<dataset>.img, projects it with a PCA fitted on its
 * training split (use == NULL) or with `use` (copied), and builds the
 * task sources with kmin..kmax classes per task.  Returns AM_OK, or with
 * a message in err: AM_EIO (the file cannot be read: the message says to
 * run `make data`), imgset_read's or pca_unpack's status, AM_EINVAL (too
 * many or too few classes for kmin..kmax, a PCA of another image size, a
 * class missing from a half, or k out of range), the fit's status, or
 * AM_ENOMEM.  On failure *t is closed (images_close is still safe).
 */
int images_open(struct images *t, const char *dataset, const struct pca *use,
		 int kmin, int kmax, char *err, size_t errlen);

/* images_open with a PCA of k (1..SOURCE_XMAX) features fitted when use
 * is NULL (images_open fits SOURCE_XMAX). */
int images_open_k(struct images *t, const char *dataset, const struct pca *use,
		   int kmin, int kmax, int k, char *err, size_t errlen);

void images_close(struct images *t);

#endif
