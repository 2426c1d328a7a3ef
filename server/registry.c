/*
 * registry.c - loading *.amort files at start-up.
 */
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

struct registry {
	struct model *models;
	int n;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int model_cmp(const void *a, const void *b)
{
	return strcmp(((const struct model *)a)->name, ((const struct model *)b)->name);
}

/* Whether name ends in ".amort" (and has something before it). */
static int is_model_name(const char *name)
{
	size_t n = strlen(name);

	return n > 6 && !strcmp(name + n - 6, ".amort") && name[0] != '.';
}

/* Reads the sorted list of candidate file names of dir into *names
 * (each malloc'd).  Returns the count, or -1 with a message in err. */
static int list_files(const char *dir, char ***names, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL, **t;
	int n = 0, cap = 0, i;

	if (!d) {
		snprintf(err, errlen, "models directory %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (!is_model_name(e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			t = realloc(v, (size_t)cap * sizeof *v);
			if (!t)
				goto oom;
			v = t;
		}
		v[n] = strdup(e->d_name);
		if (!v[n])
			goto oom;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, (size_t)n, sizeof *v, name_cmp);
	*names = v;
	return n;
oom:
	closedir(d);
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Whether the sessions of this server can hold a's state and rows (the
 * sizes of struct session_view and struct scaler), and, for an implicit
 * model, its query states (replay needs rows with targets). */
static int serves(const struct amz *a)
{
	return a->nstate >= 1 && a->nstate <= AMZ_STATE_MAX && a->dmax >= 1 &&
	       a->dmax <= AMZ_DMAX && a->bmax >= 1 &&
	       (!a->implicit || (a->qstate >= 1 && a->qstate <= AMZ_STATE_MAX &&
				 a->has_y));
}

int registry_open(struct registry **out, const char *dir, char *err,
		  size_t errlen)
{
	struct registry *r = NULL;
	char **names = NULL, path[4096], msg[512];
	struct stat st;
	int n, i, j, rc = -1;

	n = list_files(dir, &names, err, errlen);
	if (n < 0)
		return -1;
	r = calloc(1, sizeof *r);
	if (!r || (n > 0 && !(r->models = calloc((size_t)n, sizeof *r->models)))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct model *m = &r->models[r->n];

		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (stat(path, &st) || !S_ISREG(st.st_mode)) {
			log_msg(LOG_WARN, "%s: skipped: not a regular file", path);
			continue;
		}
		if (model_load(m, path, msg, sizeof msg)) {
			log_msg(LOG_WARN, "%s: skipped: %s", path, msg);
			continue;
		}
		if (!serves(&m->az)) {
			log_msg(LOG_WARN, "%s: skipped: model '%s' (family %s) has a state "
				"of %d floats, rows of %d values and mini-batches of %d "
				"rows; sessions here hold 1 to %d, 1 to %d and at least 1",
				path, m->name, amz_name(&m->az), m->az.nstate,
				m->az.dmax, m->az.bmax, AMZ_STATE_MAX, AMZ_DMAX);
			model_free(m);
			continue;
		}
		for (j = 0; j < r->n; j++)
			if (!strcmp(r->models[j].name, m->name))
				break;
		if (j < r->n) {
			log_msg(LOG_WARN, "%s: skipped: a model named '%s' is already "
				"loaded", path, m->name);
			model_free(m);
			continue;
		}
		log_msg(LOG_INFO, "loaded model '%s' from %s (family %s, batch %d, "
			"checksum %s)", m->name, path, amz_name(&m->az),
			m->az.bmax, m->checksum);
		r->n++;
	}
	if (r->n > 1)
		qsort(r->models, (size_t)r->n, sizeof *r->models, model_cmp);
	if (r->n == 0)
		log_msg(LOG_WARN, "no model loaded from %s", dir);
	*out = r;
	r = NULL;
	rc = 0;
out:
	registry_close(r);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

void registry_close(struct registry *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		model_free(&r->models[i]);
	free(r->models);
	free(r);
}

int registry_count(const struct registry *r)
{
	return r ? r->n : 0;
}

const struct model *registry_at(const struct registry *r, int i)
{
	return r && i >= 0 && i < r->n ? &r->models[i] : NULL;
}

const struct model *registry_find(const struct registry *r, const char *name)
{
	int i;

	for (i = 0; r && i < r->n; i++)
		if (!strcmp(r->models[i].name, name))
			return &r->models[i];
	return NULL;
}
