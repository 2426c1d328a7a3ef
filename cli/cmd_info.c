/*
 * cmd_info.c - `amort info FILE`: the header (pretty-printed JSON) and the
 * tensor table of a model file.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/am.h"
#include "io/amfile.h"
#include "cli/tool.h"

int tool_parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "amort: %s wants an integer in [%ld, %ld], got '%s'\n",
			opt, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

int tool_info(int argc, char **argv)
{
	struct amfile f;
	json_error_t jerr;
	json_t *hdr;
	char err[256], *text;
	size_t total = 0;
	int rc, i, d;

	if (argc != 2) {
		fprintf(stderr, "usage: amort info FILE\n");
		return 2;
	}
	rc = amfile_read(argv[1], &f, err, sizeof err);
	if (rc != AM_OK) {
		fprintf(stderr, "amort: %s: %s\n", argv[1], err);
		return 1;
	}
	hdr = json_loadb(f.header, f.header_len, 0, &jerr);
	if (!hdr) {
		fprintf(stderr, "amort: %s: header is not JSON: %s (line %d)\n",
			argv[1], jerr.text, jerr.line);
		amfile_free(&f);
		return 1;
	}
	text = json_dumps(hdr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n\n", text ? text : "{}");
	free(text);
	json_decref(hdr);
	printf("%-32s %s\n", "tensor", "shape");
	for (i = 0; i < f.layout.n; i++) {
		const struct layout_view *v = &f.layout.views[i];

		printf("%-32s [", v->name);
		for (d = 0; d < v->ndim; d++)
			printf(d ? ", %d" : "%d", v->shape[d]);
		printf("]\n");
		total += v->size;
	}
	printf("\n%d tensors, %zu parameters\n", f.layout.n, total);
	amfile_free(&f);
	return 0;
}
