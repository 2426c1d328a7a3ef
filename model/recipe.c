/*
 * recipe.c - the `key = value` recipe format.
 *
 * A recipe's keys are the common ones (`common_keys`: name, family,
 * regime, variant, the refiner's sizes and the training schedule), those
 * of every set-refiner family (`setref_keys`), and the family's own (one
 * small table each, named in `families`).  The family line may stand
 * anywhere in the file, so it is found first (text_family).
 */
#include "model/recipe.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "family/families.h"
#include "model/model.h"

#define RECIPE_BYTES_MAX 65536
#define RECIPE_LINE_MAX 256
#define RECIPE_KEYS_MAX 64		/* keys of the largest family, and more */

struct key;

/* Parses value v of key k into r; 0, or -1 with a message (without
 * location) in msg. */
typedef int (*key_set)(struct recipe *r, const struct key *k, const char *v,
		       char *msg, size_t msglen);

struct key {
	const char *name;
	key_set set;
	size_t off[2];		/* into struct recipe: [0] in a linreg
				 * recipe (cfg), [1] in a set-refiner one */
	double lo, hi;
};

#define CFG(f) (offsetof(struct recipe, cfg) + offsetof(struct trainer_config, f))
#define GCFG(f) (offsetof(struct recipe, gcfg) + offsetof(struct gentrain_config, f))
#define BOTH(lf, gf) { CFG(lf), GCFG(gf) }	/* a common key */
#define AT(o) { (o), (o) }			/* a key of one world */
#define NONE { 0, 0 }				/* a key with its own setter */

/* One recipe family: its keys, regimes and task sources. */
struct family {
	const char *name;			/* family = ... */
	const struct key *shared;		/* setref_keys (NULL: linreg) */
	size_t nshared;
	const struct key *keys;			/* its own keys */
	size_t nkeys;
	const char *regimes[3];			/* with more than one, the
						 * recipe's regime is recorded
						 * in gcfg.gen */
	const char *regime_help;		/* the regimes, for a message */
	struct { const char *name; enum source_kind src; } tasks[2];
};

/* The family of the recipe being parsed, and the family named s (NULL
 * if none). */
static const struct family *family_of(const struct recipe *r);
static const struct family *family_find(const char *s);

/* ---- the values ------------------------------------------------------- */

/* Where key k's value goes in r. */
static void *key_at(struct recipe *r, const struct key *k)
{
	return (char *)r + k->off[r->gen];
}

/* Writes a printf-style message into msg and returns -1: a setter's or
 * a check's failure reads "return fail(msg, msglen, ...)". */
static int fail(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return -1;
}

/* An integer in [k->lo, k->hi], stored as an int ('i'), a long ('l') or
 * a uint64_t ('u'). */
static int set_integer(struct recipe *r, const struct key *k, const char *v,
		       char *msg, size_t msglen, char type)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < k->lo || n > k->hi)
		return fail(msg, msglen, "%s wants an integer in [%.0f, %.0f]",
			    k->name, k->lo, k->hi);
	if (type == 'i')
		*(int *)key_at(r, k) = (int)n;
	else if (type == 'l')
		*(long *)key_at(r, k) = (long)n;
	else
		*(uint64_t *)key_at(r, k) = (uint64_t)n;
	return 0;
}

static int set_int(struct recipe *r, const struct key *k, const char *v,
		   char *msg, size_t msglen)
{
	return set_integer(r, k, v, msg, msglen, 'i');
}

static int set_long(struct recipe *r, const struct key *k, const char *v,
		    char *msg, size_t msglen)
{
	return set_integer(r, k, v, msg, msglen, 'l');
}

static int set_seed(struct recipe *r, const struct key *k, const char *v,
		    char *msg, size_t msglen)
{
	return set_integer(r, k, v, msg, msglen, 'u');
}

static int set_float(struct recipe *r, const struct key *k, const char *v,
		     char *msg, size_t msglen)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(x) || x < k->lo || x > k->hi)
		return fail(msg, msglen, "%s wants a number in [%g, %g]",
			    k->name, k->lo, k->hi);
	*(float *)key_at(r, k) = (float)x;
	return 0;
}

static int set_name(struct recipe *r, const struct key *k, const char *v,
		    char *msg, size_t msglen)
{
	(void)k;
	if (!*v || strlen(v) >= sizeof r->name ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(v))
		return fail(msg, msglen,
			    "name must be 1-63 characters of [a-z0-9._-]");
	strcpy(r->name, v);
	return 0;
}

/* (the family itself is read before the keys: text_family) */
static int set_family(struct recipe *r, const struct key *k, const char *v,
		      char *msg, size_t msglen)
{
	(void)r;
	(void)k;
	if (!family_find(v))
		return fail(msg, msglen, "family '%s' is not known "
			    "(linreg, clf, reg, mog, flow)", v);
	return 0;
}

static int set_regime(struct recipe *r, const struct key *k, const char *v,
		      char *msg, size_t msglen)
{
	const struct family *f = family_of(r);
	int i;

	(void)k;
	for (i = 0; i < 3 && f->regimes[i]; i++)
		if (!strcmp(v, f->regimes[i])) {
			if (f->regimes[1])
				r->gcfg.gen.regime =
					!strcmp(v, "explicit") ? GEN_EXPLICIT :
					!strcmp(v, "implicit") ? GEN_IMPLICIT :
					GEN_PARAMETRIC;
			return 0;
		}
	return fail(msg, msglen, "regime '%s' is not available for %s", v,
		    f->regime_help);
}

static int set_variant(struct recipe *r, const struct key *k, const char *v,
		       char *msg, size_t msglen)
{
	enum refiner_variant rv;

	(void)k;
	if (model_variant_parse(v, &rv))
		return fail(msg, msglen, "variant must be obs, grad or both");
	if (r->gen)
		r->gcfg.gen.variant = rv == REFINER_OBS ? GEN_OBS :
				      rv == REFINER_GRAD ? GEN_GRAD : GEN_BOTH;
	else
		r->cfg.ref.variant = rv;
	return 0;
}

static int set_tasks(struct recipe *r, const struct key *k, const char *v,
		     char *msg, size_t msglen)
{
	const struct family *f = family_of(r);
	int i;

	(void)k;
	for (i = 0; i < 2 && f->tasks[i].name; i++)
		if (!strcmp(v, f->tasks[i].name)) {
			r->gcfg.tasks.src = f->tasks[i].src;
			return 0;
		}
	return fail(msg, msglen, "tasks must be %s%s%s", f->tasks[0].name,
		    f->tasks[1].name ? " or " : "",
		    f->tasks[1].name ? f->tasks[1].name : "");
}

static int set_letters(struct recipe *r, const struct key *k, const char *v,
		       char *msg, size_t msglen)
{
	unsigned char sel[HERSHEY_LETTERS];

	(void)k;
	if (strlen(v) > HERSHEY_LETTERS || source_letters_parse(v, sel) < 1)
		return fail(msg, msglen, "letters must be 1 to 52 of A-Z a-z");
	strcpy(r->letters, v);
	return 0;
}

static int set_dataset(struct recipe *r, const struct key *k, const char *v,
		       char *msg, size_t msglen)
{
	(void)k;
	if (strcmp(v, "fashion-mnist") && strcmp(v, "mnist"))
		return fail(msg, msglen,
			    "dataset must be fashion-mnist or mnist");
	strcpy(r->dataset, v);
	return 0;
}

static int set_state(struct recipe *r, const struct key *k, const char *v,
		     char *msg, size_t msglen)
{
	(void)k;
	if (!strcmp(v, "logits") || !strcmp(v, "mean"))
		r->gcfg.gen.qstate = GEN_Q_LOGITS;
	else if (!strcmp(v, "probs"))
		r->gcfg.gen.qstate = GEN_Q_PROBS;
	else if (!strcmp(v, "latent"))
		r->gcfg.gen.qstate = GEN_Q_LATENT;
	else
		return fail(msg, msglen,
			    "state must be logits (mean), probs or latent");
	return 0;
}

/* mlp: f(x, z) on [x, z]; head: logit_k = h(x) . z_k */
static int set_predictor(struct recipe *r, const struct key *k, const char *v,
			 char *msg, size_t msglen)
{
	(void)k;
	if (strcmp(v, "mlp") && strcmp(v, "head"))
		return fail(msg, msglen, "predictor must be mlp or head");
	r->gcfg.gen.head = !strcmp(v, "head");
	return 0;
}

/* ---- the key tables --------------------------------------------------- */

static const struct key common_keys[] = {
	{ "name", set_name, NONE, 0, 0 },
	{ "family", set_family, NONE, 0, 0 },
	{ "regime", set_regime, NONE, 0, 0 },
	{ "variant", set_variant, NONE, 0, 0 },
	{ "width", set_int, BOTH(ref.C, gen.C), 8, 1024 },
	{ "heads", set_int, BOTH(ref.H, gen.H), 1, 1024 },
	{ "layers", set_int, BOTH(ref.L, gen.L), 1, 16 },
	{ "steps", set_int, BOTH(ref.ksteps, gen.ksteps), 1, 4096 },
	{ "passes", set_int, BOTH(ref.passes, gen.passes), 1, 4 },
	{ "population", set_int, BOTH(pop, pop), 1, 65536 },
	{ "chunk", set_int, BOTH(chunk, chunk), 1, 65536 },
	{ "iters", set_long, BOTH(iters, iters), 1, 1e8 },
	{ "lr", set_float, BOTH(lr, lr), 1e-8, 1 },
	{ "lr_min", set_float, BOTH(lr_min, lr_min), 0, 1 },
	{ "warmup", set_int, BOTH(warmup, warmup), 0, 1e8 },
	{ "clip", set_float, BOTH(clip, clip), 0, 1e6 },
	{ "weight_decay", set_float, BOTH(weight_decay, weight_decay), 0, 10 },
	{ "full_batch", set_float, BOTH(full_batch, full_batch), 0, 1 },
	{ "seed", set_seed, BOTH(seed, seed), 0, 9007199254740992.0 },
	{ "shards", set_int, BOTH(shards, shards), 1, 8 },
};

/* The keys of every set-refiner family (clf, reg, mog, flow). */
static const struct key setref_keys[] = {
	{ "tasks", set_tasks, NONE, 0, 0 },
	{ "batch", set_int, AT(GCFG(gen.bmax)), 1, GEN_BMAX },
	{ "queries", set_int, AT(GCFG(nq)), 2, 1024 },
	{ "step_weight", set_int, AT(GCFG(step_weight)), 0, 1 },
	{ "task_batch", set_int, AT(GCFG(task_batch)), 0, 1 },
};

/* The parametric refiner on linear regressions. */
static const struct key linreg_keys[] = {
	{ "batch", set_int, AT(CFG(ref.bmax)), 1, 64 },
	{ "dmin", set_int, AT(CFG(fam.dmin)), 1, 16 },
	{ "dmax", set_int, AT(CFG(fam.dmax)), 1, 16 },
	{ "noise_min", set_float, AT(CFG(fam.smin)), 1e-6, 100 },
	{ "noise_max", set_float, AT(CFG(fam.smax)), 1e-6, 100 },
};

/* Mixtures and flows (family = mog or flow), on mixtures or letters. */
static const struct key mixture_keys[] = {
	{ "letters", set_letters, NONE, 0, 0 },
	{ "latent", set_int, AT(GCFG(gen.Z)), 8, 256 },
	{ "velocity_width", set_int, AT(GCFG(gen.vH)), 8, 1024 },
	{ "velocity_layers", set_int, AT(GCFG(gen.vL)), 1, 8 },
	{ "flow_steps", set_int, AT(GCFG(gen.flow_steps)), 1, 1024 },
	{ "dmin", set_int, AT(GCFG(tasks.fam.dmin)), 1, MOG_DMAX },
	{ "dmax", set_int, AT(GCFG(tasks.fam.dmax)), 1, MOG_DMAX },
	{ "kmin", set_int, AT(GCFG(tasks.fam.kmin)), 1, MOG_KMAX },
	{ "kmax", set_int, AT(GCFG(tasks.fam.kmax)), 1, MOG_KMAX },
	{ "spread", set_float, AT(GCFG(tasks.fam.spread)), 0, 100 },
	{ "sd_min", set_float, AT(GCFG(tasks.fam.sdmin)), 1e-4, 100 },
	{ "sd_max", set_float, AT(GCFG(tasks.fam.sdmax)), 1e-4, 100 },
	{ "point_noise", set_float, AT(GCFG(tasks.noise)), 0, 1 },
};

/* Classification (family = clf), on linear teachers or images. */
static const struct key clf_keys[] = {
	{ "dataset", set_dataset, NONE, 0, 0 },
	{ "features", set_int, AT(offsetof(struct recipe, features)), 1, GEN_XMAX },
	{ "disjoint", set_int, AT(offsetof(struct recipe, disjoint)), 0, 1 },
	{ "augment", set_float, AT(GCFG(tasks.augment)), 0, 1 },
	{ "state", set_state, NONE, 0, 0 },
	{ "latent", set_int, AT(GCFG(gen.Z)), 8, 256 },
	{ "predictor", set_predictor, NONE, 0, 0 },
	{ "predictor_width", set_int, AT(GCFG(gen.vH)), 8, 1024 },
	{ "predictor_layers", set_int, AT(GCFG(gen.vL)), 1, 8 },
	{ "dmin", set_int, AT(GCFG(tasks.cfam.dmin)), 1, LINCLASS_DMAX },
	{ "dmax", set_int, AT(GCFG(tasks.cfam.dmax)), 1, LINCLASS_DMAX },
	{ "kmin", set_int, AT(GCFG(tasks.cfam.kmin)), 2, LINCLASS_KMAX },
	{ "kmax", set_int, AT(GCFG(tasks.cfam.kmax)), 2, LINCLASS_KMAX },
	{ "temp_min", set_float, AT(GCFG(tasks.cfam.temp_min)), 1e-3, 100 },
	{ "temp_max", set_float, AT(GCFG(tasks.cfam.temp_max)), 1e-3, 100 },
};

/* Regression by a learned predictor (family = reg: the explicit and
 * implicit regimes; the parametric one is linreg). */
static const struct key reg_keys[] = {
	{ "state", set_state, NONE, 0, 0 },
	{ "latent", set_int, AT(GCFG(gen.Z)), 1, 256 },
	{ "predictor_width", set_int, AT(GCFG(gen.vH)), 8, 1024 },
	{ "predictor_layers", set_int, AT(GCFG(gen.vL)), 1, 8 },
	{ "dmin", set_int, AT(GCFG(tasks.rfam.dmin)), 1, LINREG_DMAX },
	{ "dmax", set_int, AT(GCFG(tasks.rfam.dmax)), 1, LINREG_DMAX },
	{ "noise_min", set_float, AT(GCFG(tasks.rfam.smin)), 1e-6, 100 },
	{ "noise_max", set_float, AT(GCFG(tasks.rfam.smax)), 1e-6, 100 },
};

#define KEYS(t) t, sizeof t / sizeof t[0]

/* indexed by enum gen_kind; 0: linreg */
static const struct family families[] = {
	[0] = { "linreg", NULL, 0, KEYS(linreg_keys), { "parametric" },
		"this family (parametric)", { { NULL, 0 } } },
	[GEN_MOG] = { "mog", KEYS(setref_keys), KEYS(mixture_keys), { "parametric" },
		      "this family (parametric)", { { "mixtures", SOURCE_MOG } } },
	[GEN_FLOW] = { "flow", KEYS(setref_keys), KEYS(mixture_keys), { "explicit" },
		       "this family (explicit)",
		       { { "mixtures", SOURCE_MOG }, { "letters", SOURCE_LETTERS } } },
	[GEN_CLF] = { "clf", KEYS(setref_keys), KEYS(clf_keys), { "parametric", "explicit", "implicit" },
		      "classification (parametric, explicit, implicit)",
		      { { "linclass", SOURCE_LINCLASS }, { "images", SOURCE_IMAGES } } },
	[GEN_REG] = { "reg", KEYS(setref_keys), KEYS(reg_keys), { "explicit", "implicit" },
		      "reg (explicit, implicit; parametric regression is family "
		      "linreg)", { { "linreg", SOURCE_LINREG } } },
};

#define NFAMILIES (sizeof families / sizeof families[0])

static const struct family *family_of(const struct recipe *r)
{
	return &families[r->gen ? r->gcfg.gen.kind : 0];
}

/* The family named s; NULL if none. */
static const struct family *family_find(const char *s)
{
	size_t i;

	for (i = 0; i < NFAMILIES; i++)
		if (!strcmp(families[i].name, s))
			return &families[i];
	return NULL;
}

/* Key `name` of family f (common, set-refiner or its own); NULL if none. */
static const struct key *key_find(const struct family *f, const char *name)
{
	const struct key *t[3] = { common_keys, f->shared, f->keys };
	size_t n[3] = { sizeof common_keys / sizeof common_keys[0], f->nshared,
			f->nkeys };
	size_t i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < n[i]; j++)
			if (!strcmp(t[i][j].name, name))
				return &t[i][j];
	return NULL;
}

/* ---- the text --------------------------------------------------------- */

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

/*
 * The next line of the text at *p into buf (RECIPE_LINE_MAX + 2 bytes),
 * without its comment and the space around it, in *s; advances *p and
 * *lineno.  Returns 1, 0 at the end of the text, or -1 for a line longer
 * than RECIPE_LINE_MAX (skipped).
 */
static int next_line(const char **p, char *buf, char **s, int *lineno)
{
	const char *nl = strchr(*p, '\n');
	size_t len = nl ? (size_t)(nl - *p) : strlen(*p);
	char *c;

	if (!**p)
		return 0;
	++*lineno;
	if (len > RECIPE_LINE_MAX) {
		*p += len + (nl ? 1 : 0);
		return -1;
	}
	memcpy(buf, *p, len);
	buf[len] = '\0';
	*p += len + (nl ? 1 : 0);
	if ((c = strchr(buf, '#')))
		*c = '\0';
	*s = trim(buf);
	return 1;
}

/* Splits line s at its '=' into a trimmed key and value; -1 without one. */
static int split(char *s, char **key, char **val)
{
	char *eq = strchr(s, '=');

	if (!eq)
		return -1;
	*eq = '\0';
	*key = trim(s);
	*val = trim(eq + 1);
	return 0;
}

/* The family named by the text's `family = ` line (its value is checked
 * when the key is parsed): linreg without one or with an unknown name. */
static const struct family *text_family(const char *text)
{
	char line[RECIPE_LINE_MAX + 2], *s, *key, *val;
	int n = 0, rc;

	while ((rc = next_line(&text, line, &s, &n)) != 0)
		if (rc > 0 && !split(s, &key, &val) && !strcmp(key, "family"))
			return family_find(val) ? family_find(val) : &families[0];
	return &families[0];
}

/* ---- parsing ---------------------------------------------------------- */

/* The keys a recipe has given so far. */
struct seen {
	const struct key *k[RECIPE_KEYS_MAX];
	int n;
};

static int seen_has(const struct seen *sn, const char *name)
{
	int i;

	for (i = 0; i < sn->n; i++)
		if (!strcmp(sn->k[i]->name, name))
			return 1;
	return 0;
}

/* One non-empty line s of a recipe of family f; 0, or -1 with a message
 * (without location). */
static int parse_line(struct recipe *r, const struct family *f, char *s,
		      struct seen *sn, char *msg, size_t msglen)
{
	const struct key *k;
	char *key, *val;
	int i;

	if (split(s, &key, &val))
		return fail(msg, msglen, "expected 'key = value'");
	k = key_find(f, key);
	if (!k)
		return fail(msg, msglen, "unknown key '%.64s'", key);
	for (i = 0; i < sn->n; i++)
		if (sn->k[i] == k)
			return fail(msg, msglen, "'%s' given twice", key);
	AM_ASSERT(sn->n < RECIPE_KEYS_MAX);
	sn->k[sn->n++] = k;
	return k->set(r, k, val, msg, msglen);
}

/*
 * The implicit regime: `queries` are each trajectory's fixed query points
 * (64 unless given, or as many as fit in a state when its queries are
 * wide: 32 of the default latent of 32); it has no gradient route.
 */
static void implicit_defaults(struct recipe *r, const struct seen *sn)
{
	struct gen_config *g = &r->gcfg.gen;

	if (!seen_has(sn, "queries")) {
		int sq = g->qstate == GEN_Q_LATENT ? g->Z :
			 g->kind == GEN_CLF ? LINCLASS_KMAX : 1;

		r->gcfg.nq = 64;
		if (sq > GEN_STATE_MAX / 64)
			r->gcfg.nq = GEN_STATE_MAX / sq;
	}
	g->nq = r->gcfg.nq;
	if (!seen_has(sn, "variant"))
		g->variant = GEN_OBS;
}

/* A whole set-refiner recipe: the keys that go together, and its
 * configuration (images and letters are checked when they are loaded). */
static int setref_finish(struct recipe *r, const struct seen *sn, char *msg,
			 size_t msglen)
{
	const struct gen_config *g = &r->gcfg.gen;

	if (g->regime != GEN_IMPLICIT && seen_has(sn, "state"))
		return fail(msg, msglen, "'state' is for the implicit regime "
			    "(regime = implicit)");
	if (!gen_has_predictor(g) && seen_has(sn, "predictor"))
		return fail(msg, msglen, "'predictor' is for the explicit "
			    "regime (regime = explicit)");
	if (g->regime == GEN_IMPLICIT)
		implicit_defaults(r, sn);
	if (r->gcfg.tasks.src != SOURCE_IMAGES && seen_has(sn, "disjoint"))
		return fail(msg, msglen,
			    "'disjoint' is for image tasks (tasks = images)");
	if (r->gcfg.tasks.src == SOURCE_IMAGES) {
		if (r->dataset[0])
			return 0;
		return fail(msg, msglen, "image tasks need a 'dataset' line");
	}
	if (r->gcfg.tasks.src == SOURCE_LETTERS) {
		if (!r->letters[0])
			return fail(msg, msglen,
				    "letters tasks need a 'letters' line");
		source_letters_parse(r->letters, r->gcfg.tasks.letters);
		return 0;
	}
	return gentrain_config_check(&r->gcfg, msg, msglen) != 0 ? -1 : 0;
}

int recipe_parse(struct recipe *r, const char *text, const char *origin,
		 char *err, size_t errlen)
{
	const struct family *f = text_family(text);
	char line[RECIPE_LINE_MAX + 2], msg[160], *s;
	struct seen sn = { { NULL }, 0 };
	int lineno = 0, rc;

	memset(r, 0, sizeof *r);
	trainer_config_default(&r->cfg);
	if (f != &families[0]) {
		r->gen = 1;
		gentrain_config_default(&r->gcfg, (enum gen_kind)(f - families));
	}
	strcpy(r->name, "model");
	r->features = GEN_XMAX;
	while ((rc = next_line(&text, line, &s, &lineno)) != 0) {
		if (rc < 0)
			snprintf(msg, sizeof msg, "line longer than %d bytes",
				 RECIPE_LINE_MAX);
		if (rc < 0 || (*s && parse_line(r, f, s, &sn, msg, sizeof msg))) {
			snprintf(err, errlen, "%s:%d: %s", origin, lineno, msg);
			return -1;
		}
	}
	if (r->gen ? setref_finish(r, &sn, msg, sizeof msg) :
	    trainer_config_check(&r->cfg, msg, sizeof msg) != 0) {
		snprintf(err, errlen, "%s: %s", origin, msg);
		return -1;
	}
	r->ops = family_by_name(f->name);
	return 0;
}

const void *recipe_config(const struct recipe *r)
{
	return r->gen ? (const void *)&r->gcfg : (const void *)&r->cfg;
}

void recipe_schedule(const struct recipe *r, struct family_train *t)
{
	memset(t, 0, sizeof *t);
	if (r->gen)
		FAMILY_TRAIN_SCHEDULE(t, &r->gcfg);
	else
		FAMILY_TRAIN_SCHEDULE(t, &r->cfg);
}

json_t *recipe_header_json(const struct recipe *r, const struct pca *pca,
			   json_t *extra)
{
	if (pca)
		return model_img_header_json(r->name, &r->gcfg, r->dataset, pca,
					     extra);
	if (r->gen)
		return model_gen_header_json(r->name, &r->gcfg, extra);
	return model_header_json(r->name, &r->cfg, extra);
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
