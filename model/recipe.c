/*
 * recipe.c - the `key = value` recipe format.
 */
#include "model/recipe.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

#define RECIPE_BYTES_MAX 65536
#define RECIPE_LINE_MAX 256

enum kind { K_INT, K_LONG, K_FLOAT, K_NAME, K_FAMILY, K_REGIME, K_VARIANT,
	    K_TASKS, K_LETTERS, K_DATASET, K_STATE, K_PREDICTOR };

struct key {
	const char *name;
	enum kind kind;
	size_t off;		/* into struct recipe */
	double lo, hi;
};

#define CFG(f) (offsetof(struct recipe, cfg) + offsetof(struct trainer_config, f))

static const struct key keys[] = {
	{ "name", K_NAME, 0, 0, 0 },
	{ "family", K_FAMILY, 0, 0, 0 },
	{ "regime", K_REGIME, 0, 0, 0 },
	{ "variant", K_VARIANT, 0, 0, 0 },
	{ "width", K_INT, CFG(ref.C), 8, 1024 },
	{ "heads", K_INT, CFG(ref.H), 1, 1024 },
	{ "layers", K_INT, CFG(ref.L), 1, 16 },
	{ "batch", K_INT, CFG(ref.bmax), 1, 64 },
	{ "steps", K_INT, CFG(ref.ksteps), 1, 4096 },
	{ "passes", K_INT, CFG(ref.passes), 1, 4 },
	{ "population", K_INT, CFG(pop), 1, 65536 },
	{ "chunk", K_INT, CFG(chunk), 1, 65536 },
	{ "iters", K_LONG, CFG(iters), 1, 1e8 },
	{ "lr", K_FLOAT, CFG(lr), 1e-8, 1 },
	{ "lr_min", K_FLOAT, CFG(lr_min), 0, 1 },
	{ "warmup", K_INT, CFG(warmup), 0, 1e8 },
	{ "clip", K_FLOAT, CFG(clip), 0, 1e6 },
	{ "weight_decay", K_FLOAT, CFG(weight_decay), 0, 10 },
	{ "full_batch", K_FLOAT, CFG(full_batch), 0, 1 },
	{ "dmin", K_INT, CFG(fam.dmin), 1, 16 },
	{ "dmax", K_INT, CFG(fam.dmax), 1, 16 },
	{ "noise_min", K_FLOAT, CFG(fam.smin), 1e-6, 100 },
	{ "noise_max", K_FLOAT, CFG(fam.smax), 1e-6, 100 },
	{ "seed", K_LONG, CFG(seed), 0, 9007199254740992.0 },
	{ "shards", K_INT, CFG(shards), 1, 8 },
};

#define NKEYS (sizeof keys / sizeof keys[0])

static char *trim(char *s);

#define GCFG(f) (offsetof(struct recipe, gcfg) + offsetof(struct gentrain_config, f))

/* The generative recipes (family = mog or flow). */
static const struct key gkeys[] = {
	{ "name", K_NAME, 0, 0, 0 },
	{ "family", K_FAMILY, 0, 0, 0 },
	{ "regime", K_REGIME, 0, 0, 0 },
	{ "variant", K_VARIANT, 0, 0, 0 },
	{ "tasks", K_TASKS, 0, 0, 0 },
	{ "letters", K_LETTERS, 0, 0, 0 },
	{ "width", K_INT, GCFG(gen.C), 8, 1024 },
	{ "heads", K_INT, GCFG(gen.H), 1, 1024 },
	{ "layers", K_INT, GCFG(gen.L), 1, 16 },
	{ "batch", K_INT, GCFG(gen.bmax), 1, GEN_BMAX },
	{ "steps", K_INT, GCFG(gen.ksteps), 1, 4096 },
	{ "passes", K_INT, GCFG(gen.passes), 1, 4 },
	{ "latent", K_INT, GCFG(gen.Z), 8, 256 },
	{ "velocity_width", K_INT, GCFG(gen.vH), 8, 1024 },
	{ "velocity_layers", K_INT, GCFG(gen.vL), 1, 8 },
	{ "flow_steps", K_INT, GCFG(gen.flow_steps), 1, 1024 },
	{ "population", K_INT, GCFG(pop), 1, 65536 },
	{ "chunk", K_INT, GCFG(chunk), 1, 65536 },
	{ "queries", K_INT, GCFG(nq), 2, 1024 },
	{ "iters", K_LONG, GCFG(iters), 1, 1e8 },
	{ "lr", K_FLOAT, GCFG(lr), 1e-8, 1 },
	{ "lr_min", K_FLOAT, GCFG(lr_min), 0, 1 },
	{ "warmup", K_INT, GCFG(warmup), 0, 1e8 },
	{ "clip", K_FLOAT, GCFG(clip), 0, 1e6 },
	{ "weight_decay", K_FLOAT, GCFG(weight_decay), 0, 10 },
	{ "full_batch", K_FLOAT, GCFG(full_batch), 0, 1 },
	{ "step_weight", K_INT, GCFG(step_weight), 0, 1 },
	{ "task_batch", K_INT, GCFG(task_batch), 0, 1 },
	{ "dmin", K_INT, GCFG(tasks.fam.dmin), 1, MOG_DMAX },
	{ "dmax", K_INT, GCFG(tasks.fam.dmax), 1, MOG_DMAX },
	{ "kmin", K_INT, GCFG(tasks.fam.kmin), 1, MOG_KMAX },
	{ "kmax", K_INT, GCFG(tasks.fam.kmax), 1, MOG_KMAX },
	{ "spread", K_FLOAT, GCFG(tasks.fam.spread), 0, 100 },
	{ "sd_min", K_FLOAT, GCFG(tasks.fam.sdmin), 1e-4, 100 },
	{ "sd_max", K_FLOAT, GCFG(tasks.fam.sdmax), 1e-4, 100 },
	{ "point_noise", K_FLOAT, GCFG(tasks.noise), 0, 1 },
	{ "seed", K_LONG, GCFG(seed), 0, 9007199254740992.0 },
	{ "shards", K_INT, GCFG(shards), 1, 8 },
};

#define NGKEYS (sizeof gkeys / sizeof gkeys[0])

/* The classification recipes (family = clf). */
static const struct key ckeys[] = {
	{ "name", K_NAME, 0, 0, 0 },
	{ "family", K_FAMILY, 0, 0, 0 },
	{ "regime", K_REGIME, 0, 0, 0 },
	{ "variant", K_VARIANT, 0, 0, 0 },
	{ "tasks", K_TASKS, 0, 0, 0 },
	{ "dataset", K_DATASET, 0, 0, 0 },
	{ "features", K_INT, offsetof(struct recipe, features), 1, GEN_XMAX },
	{ "disjoint", K_INT, offsetof(struct recipe, disjoint), 0, 1 },
	{ "augment", K_FLOAT, GCFG(tasks.augment), 0, 1 },
	{ "state", K_STATE, 0, 0, 0 },
	{ "width", K_INT, GCFG(gen.C), 8, 1024 },
	{ "heads", K_INT, GCFG(gen.H), 1, 1024 },
	{ "layers", K_INT, GCFG(gen.L), 1, 16 },
	{ "batch", K_INT, GCFG(gen.bmax), 1, GEN_BMAX },
	{ "steps", K_INT, GCFG(gen.ksteps), 1, 4096 },
	{ "passes", K_INT, GCFG(gen.passes), 1, 4 },
	{ "latent", K_INT, GCFG(gen.Z), 8, 256 },
	{ "predictor", K_PREDICTOR, 0, 0, 0 },
	{ "predictor_width", K_INT, GCFG(gen.vH), 8, 1024 },
	{ "predictor_layers", K_INT, GCFG(gen.vL), 1, 8 },
	{ "population", K_INT, GCFG(pop), 1, 65536 },
	{ "chunk", K_INT, GCFG(chunk), 1, 65536 },
	{ "queries", K_INT, GCFG(nq), 2, 1024 },
	{ "iters", K_LONG, GCFG(iters), 1, 1e8 },
	{ "lr", K_FLOAT, GCFG(lr), 1e-8, 1 },
	{ "lr_min", K_FLOAT, GCFG(lr_min), 0, 1 },
	{ "warmup", K_INT, GCFG(warmup), 0, 1e8 },
	{ "clip", K_FLOAT, GCFG(clip), 0, 1e6 },
	{ "weight_decay", K_FLOAT, GCFG(weight_decay), 0, 10 },
	{ "full_batch", K_FLOAT, GCFG(full_batch), 0, 1 },
	{ "step_weight", K_INT, GCFG(step_weight), 0, 1 },
	{ "task_batch", K_INT, GCFG(task_batch), 0, 1 },
	{ "dmin", K_INT, GCFG(tasks.cfam.dmin), 1, LINCLASS_DMAX },
	{ "dmax", K_INT, GCFG(tasks.cfam.dmax), 1, LINCLASS_DMAX },
	{ "kmin", K_INT, GCFG(tasks.cfam.kmin), 2, LINCLASS_KMAX },
	{ "kmax", K_INT, GCFG(tasks.cfam.kmax), 2, LINCLASS_KMAX },
	{ "temp_min", K_FLOAT, GCFG(tasks.cfam.temp_min), 1e-3, 100 },
	{ "temp_max", K_FLOAT, GCFG(tasks.cfam.temp_max), 1e-3, 100 },
	{ "seed", K_LONG, GCFG(seed), 0, 9007199254740992.0 },
	{ "shards", K_INT, GCFG(shards), 1, 8 },
};

#define NCKEYS (sizeof ckeys / sizeof ckeys[0])

/* The regression recipes by a learned predictor (family = reg: the
 * explicit and implicit regimes; the parametric one is linreg). */
static const struct key rkeys[] = {
	{ "name", K_NAME, 0, 0, 0 },
	{ "family", K_FAMILY, 0, 0, 0 },
	{ "regime", K_REGIME, 0, 0, 0 },
	{ "variant", K_VARIANT, 0, 0, 0 },
	{ "tasks", K_TASKS, 0, 0, 0 },
	{ "state", K_STATE, 0, 0, 0 },
	{ "width", K_INT, GCFG(gen.C), 8, 1024 },
	{ "heads", K_INT, GCFG(gen.H), 1, 1024 },
	{ "layers", K_INT, GCFG(gen.L), 1, 16 },
	{ "batch", K_INT, GCFG(gen.bmax), 1, GEN_BMAX },
	{ "steps", K_INT, GCFG(gen.ksteps), 1, 4096 },
	{ "passes", K_INT, GCFG(gen.passes), 1, 4 },
	{ "latent", K_INT, GCFG(gen.Z), 1, 256 },
	{ "predictor_width", K_INT, GCFG(gen.vH), 8, 1024 },
	{ "predictor_layers", K_INT, GCFG(gen.vL), 1, 8 },
	{ "population", K_INT, GCFG(pop), 1, 65536 },
	{ "chunk", K_INT, GCFG(chunk), 1, 65536 },
	{ "queries", K_INT, GCFG(nq), 2, 1024 },
	{ "iters", K_LONG, GCFG(iters), 1, 1e8 },
	{ "lr", K_FLOAT, GCFG(lr), 1e-8, 1 },
	{ "lr_min", K_FLOAT, GCFG(lr_min), 0, 1 },
	{ "warmup", K_INT, GCFG(warmup), 0, 1e8 },
	{ "clip", K_FLOAT, GCFG(clip), 0, 1e6 },
	{ "weight_decay", K_FLOAT, GCFG(weight_decay), 0, 10 },
	{ "full_batch", K_FLOAT, GCFG(full_batch), 0, 1 },
	{ "step_weight", K_INT, GCFG(step_weight), 0, 1 },
	{ "task_batch", K_INT, GCFG(task_batch), 0, 1 },
	{ "dmin", K_INT, GCFG(tasks.rfam.dmin), 1, LINREG_DMAX },
	{ "dmax", K_INT, GCFG(tasks.rfam.dmax), 1, LINREG_DMAX },
	{ "noise_min", K_FLOAT, GCFG(tasks.rfam.smin), 1e-6, 100 },
	{ "noise_max", K_FLOAT, GCFG(tasks.rfam.smax), 1e-6, 100 },
	{ "seed", K_LONG, GCFG(seed), 0, 9007199254740992.0 },
	{ "shards", K_INT, GCFG(shards), 1, 8 },
};

#define NRKEYS (sizeof rkeys / sizeof rkeys[0])

/* The family named in recipe text: "linreg" unless a `family = ` line says
 * otherwise (its value is checked when the key is parsed). */
static int text_family(const char *text)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[RECIPE_LINE_MAX + 2], *s, *eq, *c;

		if (len <= RECIPE_LINE_MAX) {
			memcpy(line, p, len);
			line[len] = '\0';
			if ((c = strchr(line, '#')))
				*c = '\0';
			s = trim(line);
			eq = strchr(s, '=');
			if (eq) {
				*eq = '\0';
				if (!strcmp(trim(s), "family")) {
					s = trim(eq + 1);
					if (!strcmp(s, "mog"))
						return GEN_MOG;
					if (!strcmp(s, "flow"))
						return GEN_FLOW;
					if (!strcmp(s, "clf"))
						return GEN_CLF;
					if (!strcmp(s, "reg"))
						return GEN_REG;
					return 0;
				}
			}
		}
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Sets one key; returns 0 or -1 with a message (without location). */
static int set_key(struct recipe *r, const struct key *k, const char *v,
		   char *msg, size_t msglen)
{
	char *end;
	double x;
	long long n;

	switch (k->kind) {
	case K_NAME:
		if (!*v || strlen(v) >= sizeof r->name ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(v)) {
			snprintf(msg, msglen, "name must be 1-63 characters of [a-z0-9._-]");
			return -1;
		}
		strcpy(r->name, v);
		return 0;
	case K_FAMILY:
		if (strcmp(v, "linreg") && strcmp(v, "mog") && strcmp(v, "flow") &&
		    strcmp(v, "clf") && strcmp(v, "reg")) {
			snprintf(msg, msglen, "family '%s' is not known (linreg, clf, reg, "
				 "mog, flow)", v);
			return -1;
		}
		return 0;
	case K_REGIME:
		if (r->gen && (r->gcfg.gen.kind == GEN_CLF ||
			       r->gcfg.gen.kind == GEN_REG)) {
			int clf = r->gcfg.gen.kind == GEN_CLF;

			if ((clf && !strcmp(v, "parametric")) ||
			    !strcmp(v, "explicit") || !strcmp(v, "implicit")) {
				r->gcfg.gen.explicit_ = !strcmp(v, "explicit");
				r->gcfg.gen.implicit_ = !strcmp(v, "implicit");
				return 0;
			}
			snprintf(msg, msglen, "regime '%s' is not available for %s", v,
				 clf ? "classification (parametric, explicit, "
				       "implicit)" :
				       "reg (explicit, implicit; parametric "
				       "regression is family linreg)");
			return -1;
		}
		if (strcmp(v, !r->gen || r->gcfg.gen.kind != GEN_FLOW ?
			   "parametric" : "explicit")) {
			snprintf(msg, msglen, "regime '%s' is not available for this "
				 "family (%s)", v, !r->gen || r->gcfg.gen.kind != GEN_FLOW ?
				 "parametric" : "explicit");
			return -1;
		}
		return 0;
	case K_DATASET:
		if (strcmp(v, "fashion-mnist") && strcmp(v, "mnist")) {
			snprintf(msg, msglen, "dataset must be fashion-mnist or mnist");
			return -1;
		}
		strcpy(r->dataset, v);
		return 0;
	case K_STATE:
		if (!strcmp(v, "logits") || !strcmp(v, "mean"))
			r->gcfg.gen.qstate = GEN_Q_LOGITS;
		else if (!strcmp(v, "probs"))
			r->gcfg.gen.qstate = GEN_Q_PROBS;
		else if (!strcmp(v, "latent"))
			r->gcfg.gen.qstate = GEN_Q_LATENT;
		else {
			snprintf(msg, msglen, "state must be logits (mean), probs or "
				 "latent");
			return -1;
		}
		return 0;
	case K_PREDICTOR:
		/* mlp: f(x, z) on [x, z]; head: logit_k = h(x) . z_k */
		if (strcmp(v, "mlp") && strcmp(v, "head")) {
			snprintf(msg, msglen, "predictor must be mlp or head");
			return -1;
		}
		r->gcfg.gen.head = !strcmp(v, "head");
		return 0;
	case K_TASKS:
		if (r->gcfg.gen.kind == GEN_REG) {
			if (strcmp(v, "linreg")) {
				snprintf(msg, msglen, "tasks must be linreg");
				return -1;
			}
			r->gcfg.tasks.src = GEN_SRC_LINREG;
			return 0;
		}
		if (r->gcfg.gen.kind == GEN_CLF) {
			if (!strcmp(v, "linclass"))
				r->gcfg.tasks.src = GEN_SRC_LINCLASS;
			else if (!strcmp(v, "images"))
				r->gcfg.tasks.src = GEN_SRC_IMAGES;
			else {
				snprintf(msg, msglen, "tasks must be linclass or images");
				return -1;
			}
			return 0;
		}
		if (!strcmp(v, "mixtures")) {
			r->gcfg.tasks.src = GEN_SRC_MOG;
		} else if (!strcmp(v, "letters") && r->gcfg.gen.kind == GEN_FLOW) {
			r->gcfg.tasks.src = GEN_SRC_LETTERS;
		} else {
			snprintf(msg, msglen, "tasks must be mixtures%s",
				 r->gcfg.gen.kind == GEN_FLOW ? " or letters" : "");
			return -1;
		}
		return 0;
	case K_LETTERS: {
		unsigned char sel[HERSHEY_LETTERS];

		if (strlen(v) > HERSHEY_LETTERS || gen_letters_parse(v, sel) < 1) {
			snprintf(msg, msglen, "letters must be 1 to 52 of A-Z a-z");
			return -1;
		}
		strcpy(r->letters, v);
		return 0;
	}
	case K_VARIANT:
		if (r->gen) {
			enum refiner_variant rv;

			if (model_variant_parse(v, &rv)) {
				snprintf(msg, msglen, "variant must be obs, grad or both");
				return -1;
			}
			r->gcfg.gen.variant = rv == REFINER_OBS ? GEN_OBS :
					      rv == REFINER_GRAD ? GEN_GRAD : GEN_BOTH;
			return 0;
		}
		if (model_variant_parse(v, &r->cfg.ref.variant)) {
			snprintf(msg, msglen, "variant must be obs, grad or both");
			return -1;
		}
		return 0;
	case K_INT:
	case K_LONG:
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno || end == v || *end || n < k->lo || n > k->hi) {
			snprintf(msg, msglen, "%s wants an integer in [%.0f, %.0f]",
				 k->name, k->lo, k->hi);
			return -1;
		}
		if (k->kind == K_INT)
			*(int *)((char *)r + k->off) = (int)n;
		else if (!strcmp(k->name, "seed"))
			*(uint64_t *)((char *)r + k->off) = (uint64_t)n;
		else
			*(long *)((char *)r + k->off) = (long)n;
		return 0;
	case K_FLOAT:
		errno = 0;
		x = strtod(v, &end);
		if (errno || end == v || *end || !isfinite(x) || x < k->lo || x > k->hi) {
			snprintf(msg, msglen, "%s wants a number in [%g, %g]",
				 k->name, k->lo, k->hi);
			return -1;
		}
		*(float *)((char *)r + k->off) = (float)x;
		return 0;
	}
	return -1;
}

int recipe_parse(struct recipe *r, const char *text, const char *origin,
		 char *err, size_t errlen)
{
	unsigned char seen[NGKEYS + NCKEYS + NRKEYS + NKEYS] = { 0 };
	char line[RECIPE_LINE_MAX + 2], msg[160];
	const char *p = text;
	int lineno = 0, kind = text_family(text);
	const struct key *tab = kind == GEN_CLF ? ckeys : kind == GEN_REG ? rkeys :
				kind ? gkeys : keys;
	size_t i, nk = kind == GEN_CLF ? NCKEYS : kind == GEN_REG ? NRKEYS :
		       kind ? NGKEYS : NKEYS;
	int seen_queries = 0, seen_variant = 0, seen_state = 0, seen_pred = 0;
	int seen_disjoint = 0;

	memset(r, 0, sizeof *r);
	trainer_config_default(&r->cfg);
	if (kind) {
		r->gen = 1;
		gentrain_config_default(&r->gcfg, (enum gen_kind)kind);
	}
	strcpy(r->name, "model");
	r->features = GEN_XMAX;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *s, *eq, *key, *val;

		lineno++;
		if (len > RECIPE_LINE_MAX) {
			snprintf(err, errlen, "%s:%d: line longer than %d bytes",
				 origin, lineno, RECIPE_LINE_MAX);
			return -1;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		if ((s = strchr(line, '#')))
			*s = '\0';
		s = trim(line);
		if (!*s)
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'", origin, lineno);
			return -1;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		for (i = 0; i < nk; i++)
			if (!strcmp(tab[i].name, key))
				break;
		if (i == nk) {
			snprintf(err, errlen, "%s:%d: unknown key '%.64s'", origin, lineno, key);
			return -1;
		}
		if (seen[i]++) {
			snprintf(err, errlen, "%s:%d: '%s' given twice", origin, lineno, key);
			return -1;
		}
		seen_queries |= !strcmp(key, "queries");
		seen_variant |= !strcmp(key, "variant");
		seen_state |= !strcmp(key, "state");
		seen_pred |= !strcmp(key, "predictor");
		seen_disjoint |= !strcmp(key, "disjoint");
		if (set_key(r, &tab[i], val, msg, sizeof msg)) {
			snprintf(err, errlen, "%s:%d: %s", origin, lineno, msg);
			return -1;
		}
	}
	if (r->gen && !r->gcfg.gen.implicit_ && seen_state) {
		snprintf(err, errlen, "%s: 'state' is for the implicit regime "
			 "(regime = implicit)", origin);
		return -1;
	}
	if (r->gen && !r->gcfg.gen.explicit_ && seen_pred) {
		snprintf(err, errlen, "%s: 'predictor' is for the explicit regime "
			 "(regime = explicit)", origin);
		return -1;
	}
	if (r->gen && r->gcfg.gen.implicit_) {
		/* the implicit regime: `queries` are each trajectory's fixed
		 * query points (64 unless given, or as many as fit in a state
		 * when its queries are wide: 32 of the default latent of 32);
		 * it has no gradient route */
		if (!seen_queries) {
			int sq = r->gcfg.gen.qstate == GEN_Q_LATENT ? r->gcfg.gen.Z :
				 r->gcfg.gen.kind == GEN_CLF ? LINCLASS_KMAX : 1;

			r->gcfg.nq = 64;
			if (sq > GEN_STATE_MAX / 64)
				r->gcfg.nq = GEN_STATE_MAX / sq;
		}
		r->gcfg.gen.nq = r->gcfg.nq;
		if (!seen_variant)
			r->gcfg.gen.variant = GEN_OBS;
	}
	if (r->gen && r->gcfg.tasks.src != GEN_SRC_IMAGES && seen_disjoint) {
		snprintf(err, errlen, "%s: 'disjoint' is for image tasks "
			 "(tasks = images)", origin);
		return -1;
	}
	if (r->gen) {
		if (r->gcfg.tasks.src == GEN_SRC_IMAGES) {
			if (!r->dataset[0]) {
				snprintf(err, errlen, "%s: image tasks need a 'dataset' "
					 "line", origin);
				return -1;
			}
			return 0;	/* the images are checked when loaded */
		}
		if (r->gcfg.tasks.src == GEN_SRC_LETTERS) {
			if (!r->letters[0]) {
				snprintf(err, errlen, "%s: letters tasks need a "
					 "'letters' line", origin);
				return -1;
			}
			gen_letters_parse(r->letters, r->gcfg.tasks.letters);
			return 0;	/* fonts are checked when loaded */
		}
		if (gentrain_config_check(&r->gcfg, msg, sizeof msg) != 0) {
			snprintf(err, errlen, "%s: %s", origin, msg);
			return -1;
		}
		return 0;
	}
	if (trainer_config_check(&r->cfg, msg, sizeof msg) != 0) {
		snprintf(err, errlen, "%s: %s", origin, msg);
		return -1;
	}
	return 0;
}

int recipe_load(struct recipe *r, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *text;
	size_t n;
	int rc;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	text = malloc(RECIPE_BYTES_MAX + 1);
	if (!text) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = fread(text, 1, RECIPE_BYTES_MAX + 1, f);
	if (ferror(f) || n > RECIPE_BYTES_MAX) {
		snprintf(err, errlen, "%s: %s", path,
			 ferror(f) ? "read error" : "larger than 64 KiB");
		fclose(f);
		free(text);
		return -1;
	}
	fclose(f);
	text[n] = '\0';
	if (strlen(text) != n) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		free(text);
		return -1;
	}
	rc = recipe_parse(r, text, path, err, errlen);
	free(text);
	return rc;
}
