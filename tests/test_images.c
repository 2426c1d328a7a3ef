/*
 * test_images.c - opening an image set as task sources: a data set that is
 * not there is AM_EIO with a message naming the file and `make data`, and
 * leaves the struct closed.  (Opening a real set fits a PCA of 60,000
 * images; `amort eval` on the image models covers it, in tests/cli.sh and
 * make identity.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "base/am.h"
#include "data/images.h"

static void test_missing_set(void **state)
{
	struct images it;
	char err[256];

	(void)state;
	err[0] = '\0';
	assert_int_equal(images_open(&it, "no-such-set", NULL, 2, 10, err,
				      sizeof err), AM_EIO);
	assert_non_null(strstr(err, IMAGES_DIR "/no-such-set.img"));
	assert_non_null(strstr(err, "make data"));
	assert_null(it.train_f);
	assert_null(it.rows);
	images_close(&it);
	/* no room for a message: still the status */
	assert_int_equal(images_open_k(&it, "no-such-set", NULL, 2, 10, 8,
					NULL, 0), AM_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
