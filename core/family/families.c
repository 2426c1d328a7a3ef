/*
 * families.c - the families this build knows, by name (families.h): a
 * new family is its file and one line here.
 */
#include "family/families.h"

#include <string.h>

#include "family/fam_gen.h"
#include "family/fam_linreg.h"

static const struct family_ops *const families[] = {
	&fam_linreg,
	&fam_clf,
	&fam_reg,
	&fam_mog,
	&fam_flow,
};

const struct family_ops *family_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof families / sizeof families[0]; i++)
		if (!strcmp(families[i]->name, name))
			return families[i];
	return NULL;
}
