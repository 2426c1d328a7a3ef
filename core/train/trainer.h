/*
 * trainer.h - the linear-regression family's training configuration
 * (struct trainer_config) under the include name model/ uses.  The
 * configuration lives with its family in family/fam_linreg.h; the one
 * trainer is train/train.h.  Declares nothing of its own.
 */
#ifndef TRAINER_H
#define TRAINER_H

#include "family/fam_linreg.h"
#include "train/train.h"

#endif
