/*
 * fam_mog.c - mixtures (gen.h, GEN_MOG): a session adapts a diagonal
 * Gaussian mixture to a stream of x rows; its log-density is exact, and
 * so is sampling.  Training as every set-refiner kind (fam_gen.h).
 */
#include "family/fam_gen.h"

#include "base/am.h"

static void mog_bind(const void *m, struct amz *a)
{
	fam_gen_bind(m, a, &fam_mog);
	a->has_density = 1;
	a->can_sample = 1;
}

static int mog_log_density(const struct amz *a, const float *state,
			   const float *X, int n, int D, float *out)
{
	const struct fam_gen_model *gm = a->m;

	return gen_log_density(&gm->g, state, X, n, D, out);
}

const struct family_ops fam_mog = {
	.name = "mog",
	FAM_GEN_TRAINING,
	.open = fam_gen_open,
	.bind = mog_bind,
	.session_ws = fam_gen_session_ws,
	.session_ws_free = fam_gen_session_ws_free,
	.session_start = fam_gen_session_start,
	.step = fam_gen_step_rows,
	.log_density = mog_log_density,
	.sample = fam_gen_sample,
};
