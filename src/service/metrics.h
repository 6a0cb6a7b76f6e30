/*
 * metrics.h - what corrald samples about its VMs and its host, the
 * history it keeps, and the answers built from them (metrics.c,
 * docs/metrics.md).
 *
 * A sampler thread wakes every interval (corrald.conf metrics_interval,
 * default 10 s) and reads, for each running VM: CPU time from its cgroup
 * (QEMU's own /proc/PID/stat without cgroups), QEMU's resident memory
 * (/proc/PID/statm), the balloon's size (QMP query-balloon, VMs with a
 * balloon), each disk's bytes and operations (QMP query-blockstats) and
 * each network NIC's tap counters (/sys/class/net); for the host: CPU
 * (/proc/stat), memory (/proc/meminfo), load (/proc/loadavg) and each
 * pool's usage (statvfs).  QMP questions go through the VM's existing
 * connection (rt_qmp_acquire) without its job lock: they only read, and
 * each waits at most SVC_METRICS_QMP_MS; a VM whose QEMU did not answer
 * in time is asked again only after SVC_METRICS_QMP_BACKOFF_S, so a busy
 * QEMU costs the sampler one short wait now and then and never delays a
 * lifecycle operation.
 *
 * History: RRD files (metrics/rrdstore.h) under STATE_DIR/metrics/:
 * host.rrd, pools/POOL.rrd, vms/UUID/{vm,disk-VOLUME,nic-MAC}.rrd.
 * svc_metrics_forget() removes a deleted VM's; the sampler also sweeps
 * files of VMs and pools this host no longer has (migrated away, deleted
 * while corrald was down).  A restart keeps them.
 *
 * The newest sample is kept in memory for GET /metrics (Prometheus text,
 * metrics/expo.h): scraping never reads a file or asks QEMU.
 *
 * Threading: every function may be called from any thread.
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_SERVICE_METRICS_H
#define CORRAL_SERVICE_METRICS_H

#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

#define SVC_METRICS_DEFAULT_INTERVAL_S 10
#define SVC_METRICS_QMP_MS 1000
#define SVC_METRICS_QMP_BACKOFF_S 60
/* The longest history a stats query may ask for: the RRD files keep a year. */
#define SVC_METRICS_SINCE_MAX (366LL * 86400)

/* Start the sampler (corrald, once the runtime has re-attached its VMs). */
int svc_metrics_start(unsigned interval_s, struct buf *err);
/* Stop and join it (before the runtime shuts down).  NULL-safe to repeat. */
void svc_metrics_stop(void);
/* VM uuid was deleted: its history goes. */
void svc_metrics_forget(const char *uuid);

/* "1h", "30m", "90s", "2d", "1w" or plain seconds, 1 s .. SVC_METRICS_SINCE_MAX: -EINVAL + err. */
int svc_metrics_since_parse(const char *s, int64_t *seconds, struct buf *err);

/*
 * The history of VM uuid (or of the host) over the last since_s seconds:
 * {"interval", "since", "until", "step", "series": [{"name", "unit",
 * "disk"|"nic"?, "current", "average", "max", "points": [[t, v|null]...]}]}
 * (docs/api.md).  A VM never sampled has no series.  *out is new.
 */
int svc_metrics_vm(const char *uuid, int64_t since_s, json_t **out, struct buf *err);
int svc_metrics_host(int64_t since_s, json_t **out, struct buf *err);

/* The newest sample in the Prometheus text exposition format 0.0.4 (metrics/expo.h). */
void svc_metrics_prometheus(struct buf *out);

#endif
