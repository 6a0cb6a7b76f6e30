/*
 * errout.c - the one place the CLI writes an error line (see errout.h):
 * plain "corral: ..." for people, one JSON object per line with --json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>

#include "errout.h"
#include "util/buf.h"

static bool json_mode;
static bool quiet;

void errout_set_quiet(bool on)
{
	quiet = on;
}

bool errout_quiet(void)
{
	return quiet;
}

void errout_set_json(bool on)
{
	json_mode = on;
}

bool errout_json(void)
{
	return json_mode;
}

void errout_vprint(const char *code, const char *fmt, va_list ap)
{
	struct buf msg = BUF_INIT;

	if (quiet)
		return;
	buf_vprintf(&msg, fmt, ap);
	fflush(stdout);
	if (json_mode) {
		json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code ? code : "failed", "message",
				      msg.s ? msg.s : "");
		char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		fprintf(stderr, "%s\n", line ? line : "{\"error\":{\"code\":\"failed\",\"message\":\"\"}}");
		free(line);
		json_decref(j);
	} else {
		fprintf(stderr, "corral: %s\n", msg.s ? msg.s : "");
	}
	buf_release(&msg);
}

void errout_print(const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errout_vprint(code, fmt, ap);
	va_end(ap);
}
