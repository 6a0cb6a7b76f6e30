/*
 * console.h - `corral vm console`: the guest's serial port on this terminal.
 *
 * Speaks the API's upgrade (GET /v1/vms/{vm}/console with
 * "Upgrade: corral-console", answered by 101) on a raw stream to corrald
 * (client_stream: the unix socket, or a pinned TLS connection carrying the
 * API token when the CLI talks to a remote) and then relays bytes both ways.  On a terminal, stdin is put in raw mode
 * (restored on every exit, signals included) and Ctrl-] detaches.  Without
 * a terminal, stdin is sent to the guest and, once it ends, guest output
 * is still relayed for `linger_ms` before exiting with success.
 */
#ifndef CORRAL_CLI_CONSOLE_H
#define CORRAL_CLI_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

#define CONSOLE_ESCAPE 0x1d	/* Ctrl-] */

/* CLI_OK on detach, linger end or the daemon closing; CLI_FAIL (printed)
 * otherwise.  `force` takes the console over from a session attached to it. */
int console_run(struct cli *cli, const char *selector, bool force, int64_t linger_ms);
/* The same on the collection `base`: "/v1/vms", or "/v1/containers" (`ct console`). */
int console_run_at(struct cli *cli, const char *base, const char *selector, bool force, int64_t linger_ms);

#endif
