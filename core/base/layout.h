/*
 * layout.h - named views into one contiguous float block.
 *
 * A model keeps all its parameters in one float array, all their gradients in
 * a second array of the same layout, and all its activations in a third.  A
 * layout records, for each named tensor, its shape and its offset in the
 * block, so that code can bind plain float pointers once and the model file
 * can write and check every tensor by name.
 *
 * A layout owns its table of views, never the float blocks themselves.
 */
#ifndef LAYOUT_H
#define LAYOUT_H

#include <stddef.h>

#define LAYOUT_NAME_MAX 64	/* bytes, including the terminating NUL */
#define LAYOUT_NDIM_MAX 4

struct layout_view {
	char name[LAYOUT_NAME_MAX];
	int ndim;
	int shape[LAYOUT_NDIM_MAX];
	size_t offset;		/* in floats from the start of the block */
	size_t size;		/* product of shape */
};

struct layout {
	struct layout_view *views;
	int n, cap;
	size_t total;		/* floats in the block */
};

/* Empties a layout; it holds no memory until the first layout_add. */
void layout_init(struct layout *l);

/* Frees the table of views.  layout_free on an initialised, empty or
 * already-freed layout is a no-op. */
void layout_free(struct layout *l);

/*
 * Appends a view of the given shape (ndim in 1..4, every dimension > 0) and
 * returns its offset in floats.  Views are aligned to 16 floats (64 bytes)
 * so each starts on a cache line.  Names must be unique and shorter than
 * LAYOUT_NAME_MAX; a broken rule is a programming error and aborts.
 * Returns (size_t)-1 only if memory for the table runs out.
 */
size_t layout_add(struct layout *l, const char *name, int ndim, const int *shape);

/* Convenience forms for 1-D and 2-D views. */
size_t layout_add1(struct layout *l, const char *name, int d0);
size_t layout_add2(struct layout *l, const char *name, int d0, int d1);

/* Returns the view with that name (borrowed, valid until the next
 * layout_add or layout_free), or NULL. */
const struct layout_view *layout_find(const struct layout *l, const char *name);

#endif
