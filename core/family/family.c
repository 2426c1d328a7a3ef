/*
 * family.c - what every family shares: the check of the training schedule
 * its configuration carries.
 */
#include "family/family.h"

#include "base/am.h"

int family_schedule_check(const struct family_train *t, char *err,
			  size_t errlen)
{
	const char *bad = NULL;

	if (t->pop < 1 || t->pop > 65536)
		bad = "population must be in [1, 65536]";
	else if (t->chunk < 1 || t->chunk > t->pop)
		bad = "chunk must be in [1, population]";
	else if (t->iters < 1 || t->iters > 100000000L)
		bad = "iters must be in [1, 1e8]";
	else if (!(t->lr > 0.0f && t->lr < 1.0f) ||
		 !(t->lr_min >= 0.0f && t->lr_min <= t->lr))
		bad = "learning rates must satisfy 0 <= lr_min <= lr < 1";
	else if (t->warmup < 0 || !(t->clip >= 0.0f) || !(t->weight_decay >= 0.0f))
		bad = "warmup, clip and weight decay must be >= 0";
	else if (!(t->full_batch >= 0.0f && t->full_batch <= 1.0f))
		bad = "full_batch must be in [0, 1]";
	else if (t->shards < 1 || t->shards > FAMILY_SHARDS_MAX)
		bad = "shards must be in [1, 8]";
	return am_check(bad, err, errlen);
}
