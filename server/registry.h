/*
 * registry.h - the amortizers the daemon serves, loaded once at start-up.
 *
 * registry_open loads every regular file named *.amort in a directory, in
 * name order.  A file that does not load (bad header, wrong family,
 * corrupt, sizes beyond AMZ_STATE_MAX or AMZ_DMAX) is logged and skipped, as is a second file carrying a model name
 * already loaded; neither is fatal for the others.  After registry_open
 * the registry never changes, so lookups need no lock: every function
 * except registry_open and registry_close is thread-safe, and the models
 * it hands out are borrowed until registry_close.
 *
 * Owns the models (struct model from model/model.h: parameters and
 * parsed header).
 */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stddef.h>

#include "model/model.h"

struct registry;

/*
 * Loads the models of dir.  Returns 0 with *out set (possibly with zero
 * models, after a warning), or -1 with a message in err if dir cannot be
 * read or memory runs out.
 */
int registry_open(struct registry **out, const char *dir, char *err,
		  size_t errlen);

/* Frees every model; NULL-safe. */
void registry_close(struct registry *r);

/* The number of models loaded. */
int registry_count(const struct registry *r);

/* Model i (0 <= i < count) in name order, borrowed. */
const struct model *registry_at(const struct registry *r, int i);

/* The model named name, or NULL; borrowed. */
const struct model *registry_find(const struct registry *r, const char *name);

#endif
