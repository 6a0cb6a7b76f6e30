/*
 * errout.h - how the CLI prints an error: one stderr line, either
 * "corral: <message>" or, when the command line has --json, the JSON line
 * {"error":{"code":"<code>","message":"<message>"}} (the shape of the API's
 * own error objects, docs/api.md), so a script that asked for JSON parses
 * failures too.  The exit status does not change with the form.
 *
 * Codes: the API's code when corrald answered with an error object
 * ("not_found", "conflict", ...); else "usage" (a usage error, also a
 * destructive verb without --yes and without a terminal: exit 2),
 * "unreachable" (corrald cannot be reached), "transport" (a request broke
 * off), "malformed" (an answer that is not JSON), "certificate" (a pinned
 * certificate did not match), "refused" (the user did not confirm on the
 * terminal), "http" (an error answer without an error object) and "failed"
 * (any other error the CLI itself detects).
 *
 * Threading: the CLI is single-threaded; the mode is a process global set
 * once by main.c before anything is parsed.
 */
#ifndef CORRAL_CLI_ERROUT_H
#define CORRAL_CLI_ERROUT_H

#include <stdarg.h>
#include <stdbool.h>

/* Print errors as JSON from now on (main.c: --json anywhere before "--"). */
void errout_set_json(bool on);
bool errout_json(void);

/* Print nothing at all while `on` (shell completion must stay silent). */
void errout_set_quiet(bool on);
bool errout_quiet(void);

/* Print one error, flushing stdout first so the two stay in order. */
void errout_print(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void errout_vprint(const char *code, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
