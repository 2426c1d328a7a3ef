/*
 * gentrain.h - the set-refiner families' training configuration (struct
 * gentrain_config) under the include name model/ uses.  The configuration
 * lives with its family in family/fam_gen.h; the one trainer is
 * train/train.h.  Declares nothing of its own.
 */
#ifndef GENTRAIN_H
#define GENTRAIN_H

#include "family/fam_gen.h"
#include "train/train.h"

#endif
