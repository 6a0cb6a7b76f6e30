/*
 * agent.h - what corrald does with a VM's QEMU guest agent (agent.c,
 * docs/agent.md): the guest's name, OS and addresses for `vm show` and
 * `vm list`, filesystem freeze and thaw around the point in time of backups
 * and live snapshots, and a guest-shutdown when the guest ignores the power
 * button.
 *
 * One client (qemu/qga.h) per running VM with the agent channel, made on
 * first use and kept while the VM runs (the socket is <run_dir>/<uuid>/
 * agent.sock).  Every call is bounded (SVC_AGENT_*_MS): a guest without
 * qemu-ga costs at most one short timeout, and an API call never waits
 * longer than ~2 s for an agent.  What the agent said last is cached: `vm
 * show` asks again when the cache is older than SVC_AGENT_FRESH_MS, `vm
 * list` only reads the cache and has stale entries refreshed in the
 * background (one refresh per VM at a time), so listing many VMs never
 * waits for their agents.
 *
 * Threading: all functions may be called from any thread.  Calls to one
 * VM's agent are serialised by its client; a caller that cannot have it
 * within its timeout gets "busy" rather than queueing.
 */
#ifndef CORRAL_SERVICE_AGENT_H
#define CORRAL_SERVICE_AGENT_H

#include <stdbool.h>
#include <jansson.h>

#include "core/vmdef.h"
#include "util/buf.h"

/* Timeouts: one info refresh in all (sync + 3 commands), a freeze, a thaw,
 * a guest-shutdown. */
#define SVC_AGENT_INFO_MS 1500
#define SVC_AGENT_FREEZE_MS 10000
#define SVC_AGENT_THAW_MS 10000
#define SVC_AGENT_SHUTDOWN_MS 2000
/* How old a cached answer `vm show` still uses as is. */
#define SVC_AGENT_FRESH_MS 5000

/*
 * The "agent" member of a VM's status: {"state": "off" | "connected" |
 * "not responding" | "not running", "checked": RFC 3339 time of the last
 * try, and when the agent answered: "hostname", "os" {...}, "interfaces"
 * [...], "ips" [...]} (qemu/qga.h for their shapes).  refresh: ask the
 * agent now when the cache is stale (vm show); else the cache as is and a
 * background refresh when it is stale (vm list).  New reference.
 */
json_t *svc_agent_status(const char *uuid, const struct vm_def *d, bool running, bool refresh);

/*
 * Around a point in time (backup, live snapshot): svc_agent_point_begin()
 * freezes the guest's filesystems (guest-fsfreeze-freeze) unless no_freeze,
 * the VM has no agent channel, or no agent answers within ~1 s; what
 * happened is in f (never an error: the caller goes on crash-consistent).
 * svc_agent_point_end() must follow once the point is taken, on every path:
 * it thaws whenever a freeze was sent (a freeze that timed out may still
 * complete in the guest), retrying within SVC_AGENT_THAW_MS, and records an
 * event if the guest stays frozen.
 */
struct svc_freeze {
	bool sent;		/* a freeze was sent: thaw */
	bool frozen;		/* the agent confirmed it */
	int count;		/* filesystems frozen */
	char note[256];		/* "filesystem-frozen (N filesystems)", "crash (why)" */
};
void svc_agent_point_begin(const char *uuid, const struct vm_def *d, bool no_freeze, struct svc_freeze *f);
void svc_agent_point_end(const char *uuid, struct svc_freeze *f);
/* "filesystem-frozen" or "crash". */
const char *svc_freeze_consistency(const struct svc_freeze *f);

/* Thaw (guest-fsfreeze-thaw) now, retried within SVC_AGENT_THAW_MS. */
int svc_agent_thaw(const char *uuid, struct buf *err);
/* Ask the agent to power the guest off (guest-shutdown). */
int svc_agent_shutdown(const char *uuid, struct buf *err);
/* At corrald start (svc_recover): in the background, thaw every running
 * VM whose agent reports its filesystems frozen (a killed corrald may have
 * left a freeze behind), with an event. */
void svc_agent_recover(void);
/* Drop VM uuid's client and cache (its QEMU is gone). */
void svc_agent_forget(const char *uuid);
/* Drop every client (svc_shutdown): first wait for the background refreshes
 * (at most AGENT_MAX_REFRESHERS at once, each bounded by its deadline) and
 * the start-up thaw pass (it stops between VMs), so none touches the store
 * after it closes. */
void svc_agent_forget_all(void);

#endif
