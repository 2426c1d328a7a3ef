/*
 * test_registry.c - loading a models directory: good files load in name
 * order, bad ones are skipped (never fatal for the others), a second file
 * with a name already loaded is skipped, and a missing directory fails;
 * the explicit classifier's predictor is read from the header and a
 * header that misstates it is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/am.h"
#include "io/amfile.h"
#include "base/gemm.h"
#include "family/fam_gen.h"
#include "train/train.h"
#include "log.h"
#include "model/model.h"
#include "registry.h"
#include "family/fam_linreg.h"

/* A tiny model, untrained (train_new initialises it), named name. */
static void write_model(const char *path, const char *name, int bmax)
{
	struct trainer_config c;
	struct train *t;
	json_t *h;
	char err[256], *text;

	trainer_config_default(&c);
	c.ref.C = 8;
	c.ref.H = 2;
	c.ref.L = 1;
	c.ref.bmax = bmax;
	c.ref.ksteps = 2;
	c.ref.passes = 1;
	c.pop = 2;
	c.chunk = 2;
	c.iters = 1;
	c.warmup = 1;
	c.shards = 1;
	t = train_new(&fam_linreg, &c, err, sizeof err);
	assert_non_null(t);
	h = model_header_json(name, &c, NULL);
	text = json_dumps(h, JSON_COMPACT);
	assert_int_equal(amfile_write(path, text, train_layout(t), train_params(t),
				      err, sizeof err), AM_OK);
	free(text);
	json_decref(h);
	train_free(t);
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_skip_bad(void **state)
{
	char dir[] = "/tmp/test_registry.XXXXXX", p[256], err[256];
	static const char *const files[] = {
		"b.amort", "a.amort", "c.amort", "broken.amort", "notes.txt", "dup.amort",
		"sub.amort", "a.amort.ckpt",
	};
	struct registry *r = NULL;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof p, "%s/b.amort", dir);
	write_model(p, "beta", 8);
	snprintf(p, sizeof p, "%s/a.amort", dir);
	write_model(p, "alpha", 4);
	snprintf(p, sizeof p, "%s/dup.amort", dir);
	write_model(p, "alpha", 16);		/* the same name again */
	snprintf(p, sizeof p, "%s/c.amort", dir);
	write_model(p, "gamma", 4);
	truncate(p, 300);			/* corrupt */
	put_file(dir, "broken.amort", "not a model");
	put_file(dir, "notes.txt", "ignored");
	put_file(dir, "a.amort.ckpt", "ignored");
	snprintf(p, sizeof p, "%s/sub.amort", dir);
	mkdir(p, 0700);

	assert_int_equal(registry_open(&r, dir, err, sizeof err), 0);
	assert_int_equal(registry_count(r), 2);
	assert_string_equal(registry_at(r, 0)->name, "alpha");
	assert_string_equal(registry_at(r, 1)->name, "beta");
	assert_null(registry_at(r, 2));
	assert_null(registry_at(r, -1));
	/* a.amort comes before dup.amort: the first alpha is the one kept */
	assert_int_equal(registry_find(r, "alpha")->cfg.bmax, 4);
	assert_int_equal(registry_find(r, "beta")->cfg.bmax, 8);
	assert_null(registry_find(r, "gamma"));
	assert_null(registry_find(r, ""));
	assert_int_equal(strlen(registry_find(r, "beta")->checksum), 8);
	registry_close(r);
	registry_close(NULL);

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		if (unlink(p))
			rmdir(p);
	}
	rmdir(dir);
}

static void test_empty_and_missing(void **state)
{
	char dir[] = "/tmp/test_registry.XXXXXX", err[256];
	struct registry *r = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(registry_open(&r, dir, err, sizeof err), 0);
	assert_int_equal(registry_count(r), 0);
	registry_close(r);
	rmdir(dir);
	r = NULL;
	assert_int_equal(registry_open(&r, dir, err, sizeof err), -1);
	assert_null(r);
	assert_non_null(strstr(err, dir));
}

/*
 * A tiny explicit classifier with the head predictor, written with its
 * header changed by `patch` (a JSON object whose members replace the
 * header's) and without member `del` (NULL: none), then loaded: returns
 * model_load's result, err its message, *head the predictor read.
 */
static int load_patched(const char *patch, const char *del, int *head,
			char *err, size_t errlen)
{
	char path[] = "/tmp/test_registry_headXXXXXX";
	struct gentrain_config c;
	struct train *t;
	struct model m;
	json_t *h, *p;
	char *text;
	int fd, rc;

	gentrain_config_default(&c, GEN_CLF);
	c.gen.C = 8;
	c.gen.H = 2;
	c.gen.L = 1;
	c.gen.bmax = 4;
	c.gen.ksteps = 2;
	c.gen.Z = 8;
	c.gen.vH = 8;
	c.gen.vL = 1;
	c.gen.regime = GEN_EXPLICIT;
	c.gen.head = 1;
	c.pop = 2;
	c.chunk = 2;
	c.nq = 4;
	c.iters = 1;
	c.warmup = 1;
	c.shards = 1;
	t = train_new(&fam_gen, &c, err, errlen);
	assert_non_null(t);
	h = model_gen_header_json("head", &c, NULL);
	assert_non_null(h);
	if (del)
		json_object_del(h, del);
	if (patch) {
		p = json_loads(patch, 0, NULL);
		assert_non_null(p);
		assert_int_equal(json_object_update(h, p), 0);
		json_decref(p);
	}
	text = json_dumps(h, JSON_COMPACT);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(amfile_write(path, text, train_layout(t),
				      train_params(t), err, errlen), AM_OK);
	free(text);
	json_decref(h);
	train_free(t);
	rc = model_load(&m, path, err, errlen);
	if (rc == 0) {
		*head = m.gcfg.head;
		model_free(&m);
	}
	unlink(path);
	return rc;
}

/* load_patched with the header's "explicit" member as `explicit` (JSON
 * text; NULL removes it). */
static int load_head_model(const char *explicit, int *head, char *err,
			   size_t errlen)
{
	char patch[256];

	if (!explicit)
		return load_patched(NULL, "explicit", head, err, errlen);
	snprintf(patch, sizeof patch, "{\"explicit\": %s}", explicit);
	return load_patched(patch, NULL, head, err, errlen);
}

static void test_explicit_predictor_header(void **state)
{
	char err[256];
	int head = -1;

	(void)state;
	assert_int_equal(load_head_model("{\"predictor\": \"head\"}", &head, err,
					 sizeof err), 0);
	assert_int_equal(head, 1);
	assert_int_equal(load_head_model("{\"predictor\": \"sideways\"}", &head,
					 err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown predictor 'sideways'"));
	assert_int_equal(load_head_model("3", &head, err, sizeof err), -1);
	assert_non_null(strstr(err, "'explicit' must be an object"));
	assert_int_equal(load_head_model("{}", &head, err, sizeof err), -1);
	assert_non_null(strstr(err, "predictor"));
	/* without the member it reads as the mlp predictor (older files), and
	 * then the head's tensors do not fit: refused, not misread */
	assert_int_equal(load_head_model(NULL, &head, err, sizeof err), -1);
	assert_non_null(strstr(err, "has shape"));
}

/* An image model's header whose PCA keeps more features than it has
 * pixels is refused with a message; it once reached pca_floats' assertion
 * and aborted the loader. */
static void test_image_header_features(void **state)
{
	char err[256];
	int head = -1;

	(void)state;
	assert_int_equal(load_patched("{\"task_family\": \"images\", \"images\": "
				      "{\"dataset\": \"fashion-mnist\", \"pixels\": 4, "
				      "\"features\": 9, \"pca_floats\": 100}}", NULL,
				      &head, err, sizeof err), -1);
	assert_non_null(strstr(err, "'images.features' (9) exceeds 'images.pixels' (4)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_skip_bad),
		cmocka_unit_test(test_empty_and_missing),
		cmocka_unit_test(test_explicit_predictor_header),
		cmocka_unit_test(test_image_header_features),
	};

	gemm_set_threads(1);
	log_init(LOG_ERROR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
