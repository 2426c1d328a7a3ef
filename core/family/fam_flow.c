/*
 * fam_flow.c - flows (gen.h, GEN_FLOW): a session refines a task latent
 * from a stream of x rows, and samples by integrating the velocity
 * network it conditions.  No density.  Training as every set-refiner kind
 * (fam_gen.h).
 */
#include "family/fam_gen.h"

static void flow_bind(const void *m, struct amz *a)
{
	fam_gen_bind(m, a, &fam_flow);
	a->can_sample = 1;
}

const struct family_ops fam_flow = {
	.name = "flow",
	FAM_GEN_TRAINING,
	.open = fam_gen_open,
	.bind = flow_bind,
	.session_ws = fam_gen_session_ws,
	.session_ws_free = fam_gen_session_ws_free,
	.session_start = fam_gen_session_start,
	.step = fam_gen_step_rows,
	.sample = fam_gen_sample,
};
