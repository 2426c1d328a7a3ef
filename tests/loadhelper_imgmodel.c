/*
 * loadhelper_imgmodel.c - a tiny image model for the tests, without image
 * data: re-labels a trained linclass classification model as an image
 * model of 4-pixel images with a PCA made by hand (tests/cli.sh runs it).
 *
 *   loadhelper_imgmodel IN.amort OUT.amort NAME
 *
 * OUT has IN's parameters, a header whose task family is "images" (with
 * IN's class range and an "images" member), and the tensor "pca" after the
 * others, as amort train writes an image model.  The PCA: 4 pixels, 2
 * whitened features, mean 0.5 per pixel, components (1, 1, 1, 1) / 2 and
 * (1, -1, 1, -1) / 2, eigenvalues 0.08 and 0.02 (test_api.c uses the same).
 * Exit status 2 on a usage error, 1 on any failure.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "io/amfile.h"
#include "base/layout.h"
#include "model/model.h"
#include "data/pca.h"

#define NPIX 4
#define K 2

int main(int argc, char **argv)
{
	static const float packed[4 + NPIX + K + K * NPIX] = {
		NPIX, K, 1, 0.12f,
		0.5f, 0.5f, 0.5f, 0.5f,
		0.08f, 0.02f,
		0.5f, 0.5f, 0.5f, 0.5f,
		0.5f, -0.5f, 0.5f, -0.5f,
	};
	const size_t npacked = sizeof packed / sizeof packed[0];
	struct model m;
	struct layout l;
	json_t *h = NULL, *fam;
	float *buf = NULL;
	char err[512], *text = NULL;
	size_t pv;
	int i, rc = 1, loaded = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: loadhelper_imgmodel IN.amort OUT.amort NAME\n");
		return 2;
	}
	layout_init(&l);
	if (model_load(&m, argv[1], err, sizeof err)) {
		fprintf(stderr, "loadhelper_imgmodel: %s: %s\n", argv[1], err);
		goto out;
	}
	loaded = 1;
	if (!m.az.has_labels || strcmp(m.family, "linclass")) {
		fprintf(stderr, "loadhelper_imgmodel: %s is not a linclass model\n", argv[1]);
		goto out;
	}
	fam = json_object_get(m.header, "family");
	h = json_deep_copy(m.header);
	if (!h || json_object_set_new(h, "name", json_string(argv[3])) ||
	    json_object_set_new(h, "task_family", json_string("images")) ||
	    json_object_set_new(h, "family", json_pack(
		    "{s:O, s:O}", "kmin", json_object_get(fam, "kmin"),
		    "kmax", json_object_get(fam, "kmax"))) ||
	    json_object_set_new(h, "images", json_pack(
		    "{s:s, s:i, s:i, s:b, s:I, s:f}", "dataset", "test", "pixels", NPIX,
		    "features", K, "whiten", 1, "pca_floats", (json_int_t)npacked,
		    "variance_kept", 0.1 / 0.12)))
		goto oom;
	text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text || pca_floats(NPIX, K) != npacked)
		goto oom;
	for (i = 0; i < m.lay.n; i++)
		if (layout_add(&l, m.lay.views[i].name, m.lay.views[i].ndim,
			       m.lay.views[i].shape) != m.lay.views[i].offset)
			goto oom;
	pv = layout_add1(&l, "pca", (int)npacked);
	if (pv == (size_t)-1)
		goto oom;
	buf = calloc(l.total, sizeof *buf);
	if (!buf)
		goto oom;
	memcpy(buf, m.p, m.lay.total * sizeof *buf);
	memcpy(buf + pv, packed, sizeof packed);
	if (amfile_write(argv[2], text, &l, buf, err, sizeof err) != AM_OK) {
		fprintf(stderr, "loadhelper_imgmodel: %s: %s\n", argv[2], err);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	fprintf(stderr, "loadhelper_imgmodel: out of memory\n");
out:
	free(buf);
	free(text);
	json_decref(h);
	layout_free(&l);
	if (loaded)
		model_free(&m);
	return rc;
}
