/*
 * autostart.h - guests with the host: starting the autostart VMs when
 * corrald starts (at host boot), in order and with delays, and stopping
 * every guest when the host goes down.
 *
 * Autostart: the VMs and containers flagged autostart and not running
 * (one inventory, one order: a container's start_order is compared with
 * VMs') start one after
 * another in ascending start_order (ties by name), each waiting for the
 * previous start to end, then start_delay seconds of that VM (docs/cli.md
 * "Autostart").  It runs on a thread of its own, so corrald answers the API
 * (and signals) meanwhile; each start is an ordinary start job, and each
 * VM gets an "autostart" event saying its place in the order.
 *
 * Shutdown: every active VM is stopped as one job (type "shutdown-guests",
 * target "host"): the power button of each is pressed in the reverse start
 * order (descending start_order, ties by name, reversed), all of them then
 * wait at once, and whatever still runs after the timeout is killed; each
 * VM's reason says "stopped by host shutdown (... killed)" when it was.
 * The result is a VM action's ({"vms":[{name,uuid,ok,state,reason,killed,
 * error,job}]}).
 *
 * Threading: svc_autostart_begin/_end are called by corrald's main thread
 * only; the rest is safe from any thread (it goes through the job engine).
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_SERVICE_AUTOSTART_H
#define CORRAL_SERVICE_AUTOSTART_H

#include <jansson.h>

#include "util/buf.h"

/* Start the autostart thread (after the API is up). */
void svc_autostart_begin(void);
/* Stop starting more VMs and wait for the thread (a start under way ends first). */
void svc_autostart_end(void);

/* Stop every active VM as described above: the job in *job (its JSON). */
int svc_guests_shutdown_job(int timeout_s, json_t **job, struct buf *err);
/* The same, waiting for the job's end and logging how each VM fared (corrald's SIGTERM). */
void svc_guests_shutdown(int timeout_s);

#endif
