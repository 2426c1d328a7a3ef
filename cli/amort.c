/*
 * amort.c - the `amort` command: one table of subcommands over libamort.
 *
 *   amort info FILE     print a model file's header and tensors
 *   amort train RECIPE  meta-train a model from a recipe
 *   amort eval FILE...  measure models against the optimum and baselines
 *   amort adapt ...     adapt a model to a CSV stream, predict a CSV
 *   amort data ...      image data sets: convert IDX files, inspect, PCA
 *
 * Messages go to stderr, results to stdout; any failure exits non-zero.
 */
#include <stdio.h>
#include <string.h>

#include "cli/tool.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{ "info", tool_info, "info FILE           print a model file's header and tensors" },
	{ "train", tool_train, "train RECIPE -o FILE [--threads N] [--resume] [--checkpoint-every N]\n"
	  "                     [--max-seconds S]   meta-train a model from a recipe" },
	{ "eval", tool_eval, "eval FILE... [--tasks N] [--seed S] [--dim D] [--noise SD] [--batch B]\n"
	  "                     [--no-ood] [--csv F] [--svg F]   measure against the optimum and SGD/Adam" },
	{ "adapt", tool_adapt, "adapt --model FILE --train TRAIN.csv --predict TEST.csv\n                     [--batch B] [--no-standardize]   adapt to a CSV stream, predict a CSV" },
	{ "data", tool_data, "data convert TRAIN-IMAGES TRAIN-LABELS TEST-IMAGES TEST-LABELS -o OUT.img\n"
	  "                     [--classes N]   raw IDX files to an image set (make data)\n"
	  "  data info FILE.img [--pca K] [--threads N]   counts, and the variance K components keep" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: amort COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "amort: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
