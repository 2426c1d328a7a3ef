/*
 * test_registry.c - loading a models directory: good files load in name
 * order, bad ones are skipped (never fatal for the others), a second file
 * with a name already loaded is skipped, and a missing directory fails.
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

#include "am.h"
#include "amfile.h"
#include "gemm.h"
#include "log.h"
#include "model.h"
#include "registry.h"
#include "trainer.h"

/* A tiny model, untrained (trainer_new initialises it), named name. */
static void write_model(const char *path, const char *name, int bmax)
{
	struct trainer_config c;
	struct trainer *t;
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
	t = trainer_new(&c, err, sizeof err);
	assert_non_null(t);
	h = model_header_json(name, &c, NULL);
	text = json_dumps(h, JSON_COMPACT);
	assert_int_equal(amfile_write(path, text, trainer_layout(t), trainer_params(t),
				      err, sizeof err), AM_OK);
	free(text);
	json_decref(h);
	trainer_free(t);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_skip_bad),
		cmocka_unit_test(test_empty_and_missing),
	};

	gemm_set_threads(1);
	log_init(LOG_ERROR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
