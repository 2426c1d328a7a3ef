/*
 * test_layout.c - named views: offsets, alignment, look-up, and that the
 * views of a block never overlap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/layout.h"

static void test_layout_views(void **state)
{
	struct layout l;
	int shape3[3] = { 2, 3, 4 };
	size_t a, b, c;
	int i, j;

	(void)state;
	layout_init(&l);
	assert_null(layout_find(&l, "w"));
	a = layout_add1(&l, "bias", 5);
	b = layout_add2(&l, "w", 7, 3);
	c = layout_add(&l, "cube", 3, shape3);
	assert_int_equal(a, 0);
	assert_int_equal(b % 16, 0);
	assert_int_equal(c % 16, 0);
	assert_true(b >= a + 5);
	assert_true(c >= b + 21);
	assert_int_equal(l.total, c + 24);
	assert_int_equal(layout_find(&l, "w")->size, 21);
	assert_int_equal(layout_find(&l, "cube")->shape[2], 4);
	assert_int_equal(layout_find(&l, "cube")->ndim, 3);
	/* 40 more views force the table to grow; none may overlap */
	for (i = 0; i < 40; i++) {
		char name[16];

		snprintf(name, sizeof name, "v%d", i);
		layout_add1(&l, name, 1 + i % 17);
	}
	for (i = 0; i < l.n; i++)
		for (j = i + 1; j < l.n; j++)
			assert_true(l.views[i].offset + l.views[i].size <=
				    l.views[j].offset);
	assert_int_equal(layout_find(&l, "v39")->size, 1 + 39 % 17);
	layout_free(&l);
	assert_int_equal(l.n, 0);
	layout_free(&l);
	layout_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_views),
	};

	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
