/*
 * layout.c - named views into one contiguous float block.
 */
#include "base/layout.h"

#include <stdlib.h>
#include <string.h>

#include "base/am.h"

#define LAYOUT_ALIGN 16		/* floats: 64 bytes */

void layout_init(struct layout *l)
{
	memset(l, 0, sizeof *l);
}

void layout_free(struct layout *l)
{
	if (!l)
		return;
	free(l->views);
	layout_init(l);
}

size_t layout_add(struct layout *l, const char *name, int ndim, const int *shape)
{
	struct layout_view *v;
	size_t size = 1;
	int i;

	AM_ASSERT(name && strlen(name) < LAYOUT_NAME_MAX);
	AM_ASSERT(ndim >= 1 && ndim <= LAYOUT_NDIM_MAX);
	AM_ASSERT(layout_find(l, name) == NULL);
	for (i = 0; i < ndim; i++) {
		AM_ASSERT(shape[i] > 0);
		size *= (size_t)shape[i];
	}
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 16;
		struct layout_view *nv = realloc(l->views, (size_t)cap * sizeof *nv);

		if (!nv)
			return (size_t)-1;
		l->views = nv;
		l->cap = cap;
	}
	v = &l->views[l->n++];
	memset(v, 0, sizeof *v);
	strcpy(v->name, name);
	v->ndim = ndim;
	memcpy(v->shape, shape, (size_t)ndim * sizeof *shape);
	v->offset = (l->total + LAYOUT_ALIGN - 1) / LAYOUT_ALIGN * LAYOUT_ALIGN;
	v->size = size;
	l->total = v->offset + size;
	return v->offset;
}

size_t layout_add1(struct layout *l, const char *name, int d0)
{
	return layout_add(l, name, 1, &d0);
}

size_t layout_add2(struct layout *l, const char *name, int d0, int d1)
{
	int shape[2] = { d0, d1 };

	return layout_add(l, name, 2, shape);
}

const struct layout_view *layout_find(const struct layout *l, const char *name)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->views[i].name, name) == 0)
			return &l->views[i];
	return NULL;
}
