/*
 * families.h - the families this build knows (families.c).
 */
#ifndef FAMILIES_H
#define FAMILIES_H

#include "family/family.h"

/* The family named name ("linreg", "clf", "reg", "mog", "flow"), or
 * NULL. */
const struct family_ops *family_by_name(const char *name);

#endif
