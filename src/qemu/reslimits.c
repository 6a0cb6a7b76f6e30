/*
 * reslimits.c - see reslimits.h: resource limits of a definition mapped onto
 * cgroup values, QMP block throttling and the balloon.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "reslimits.h"
#include "argv.h"
#include "qmp.h"
#include "util/common.h"

#define QMP_TIMEOUT_MS 10000

long long qemu_limits_memory_mib(const struct vm_def *d, enum accel_mode accel)
{
	if (d->limits.memory_limit_mib >= 0)
		return d->limits.memory_limit_mib;
	return d->memory_mib + qemu_memory_overhead_mib(d->memory_mib, accel);
}

void qemu_limits_cgroup(const struct vm_def *d, enum accel_mode accel, struct cgroup_limits *out)
{
	memset(out, 0, sizeof(*out));
	out->cpu_weight = (unsigned)d->limits.cpu_weight;
	out->cpu_period_us = CGROUP_CPU_PERIOD_US;
	out->cpu_quota_us = (uint64_t)d->limits.cpu_limit_centi * CGROUP_CPU_PERIOD_US / 100;
	if (d->limits.cpuset)
		snprintf(out->cpuset, sizeof(out->cpuset), "%s", d->limits.cpuset);
	out->memory_max = (uint64_t)qemu_limits_memory_mib(d, accel) << 20;
}

json_t *qemu_io_throttle_args(const char *device, enum disk_bus bus, const struct vm_disk_io *io)
{
	__do_free char *id = bus == DISK_BUS_VIRTIO ? xasprintf("/machine/peripheral/%s/virtio-backend", device)
						    : xstrdup(device);
	/* The six rates are mandatory in QMP (0: none); bursts only when set. */
	json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "id", id, "bps", (json_int_t)io->bps, "bps_rd",
			      (json_int_t)io->bps_rd, "bps_wr", (json_int_t)io->bps_wr, "iops", (json_int_t)io->iops,
			      "iops_rd", (json_int_t)io->iops_rd, "iops_wr", (json_int_t)io->iops_wr);
	const struct {
		const char *key;
		int64_t v;
	} max[] = {
		{ "bps_max", io->bps_max },   { "bps_rd_max", io->bps_rd_max },   { "bps_wr_max", io->bps_wr_max },
		{ "iops_max", io->iops_max }, { "iops_rd_max", io->iops_rd_max }, { "iops_wr_max", io->iops_wr_max },
	};
	for (size_t i = 0; i < ARRAY_SIZE(max); i++) {
		if (!max[i].v)
			continue;
		json_object_set_new(j, max[i].key, json_integer(max[i].v));
		if (io->burst_s) {
			char len[32];
			snprintf(len, sizeof(len), "%s_length", max[i].key);
			json_object_set_new(j, len, json_integer(io->burst_s));
		}
	}
	return j;
}

int qemu_disk_io_set(struct qmp *q, const char *device, enum disk_bus bus, const struct vm_disk_io *io,
		     struct buf *err)
{
	struct buf e = BUF_INIT;
	int r = qmp_execute(q, "block_set_io_throttle", qemu_io_throttle_args(device, bus, io), NULL, QMP_TIMEOUT_MS,
			    &e);
	if (r < 0)
		buf_printf(err, "cannot set the I/O limits of %s: %s", device, e.s);
	buf_release(&e);
	return r;
}

json_t *qemu_disk_io_info(struct qmp *q)
{
	static const char *const keys[] = { "iops", "iops_rd", "iops_wr", "bps", "bps_rd", "bps_wr",
					    "iops_max", "iops_rd_max", "iops_wr_max", "bps_max", "bps_rd_max",
					    "bps_wr_max" };
	json_t *ret = NULL, *out, *b;
	size_t i;
	if (qmp_execute(q, "query-block", NULL, &ret, QMP_TIMEOUT_MS, NULL) < 0)
		return NULL;
	out = json_object();
	json_array_foreach(ret, i, b) {
		/* -device disks show as qdev "/machine/peripheral/disk3/virtio-backend" or "disk3" */
		const char *qdev = json_string_value(json_object_get(b, "qdev"));
		json_t *ins = json_object_get(b, "inserted");
		char dev[32];
		if (!qdev || !ins)
			continue;
		if (strncmp(qdev, "/machine/peripheral/", 20) == 0)
			qdev += 20;
		snprintf(dev, sizeof(dev), "%.*s", (int)strcspn(qdev, "/"), qdev);
		if (strncmp(dev, "disk", 4) != 0)
			continue;
		json_t *io = json_object();
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			json_t *v = json_object_get(ins, keys[k]);
			if (json_is_integer(v) && json_integer_value(v))
				json_object_set_new(io, keys[k], json_integer(json_integer_value(v)));
		}
		json_object_set_new(out, dev, io);
	}
	json_decref(ret);
	return out;
}

int qemu_balloon_set(struct qmp *q, long long mib, struct buf *err)
{
	struct buf e = BUF_INIT;
	int r = qmp_execute(q, "balloon", json_pack("{s:I}", "value", (json_int_t)mib << 20), NULL, QMP_TIMEOUT_MS, &e);
	if (r < 0)
		buf_printf(err, "cannot set the balloon target: %s", e.s);
	buf_release(&e);
	return r;
}

int qemu_balloon_stats_enable(struct qmp *q, struct buf *err)
{
	struct buf e = BUF_INIT;
	int r = qmp_execute(q, "qom-set",
			    json_pack("{s:s,s:s,s:i}", "path", "/machine/peripheral/" QEMU_BALLOON_ID, "property",
				      "guest-stats-polling-interval", "value", QEMU_BALLOON_POLL_S),
			    NULL, QMP_TIMEOUT_MS, &e);
	if (r < 0)
		buf_printf(err, "cannot enable balloon statistics: %s", e.s);
	buf_release(&e);
	return r;
}

json_t *qemu_balloon_info(struct qmp *q)
{
	json_t *ret = NULL, *stats = NULL, *out;
	if (qmp_execute(q, "query-balloon", NULL, &ret, QMP_TIMEOUT_MS, NULL) < 0)
		return NULL;
	out = json_pack("{s:I}", "actual_mib", (json_int_t)(json_integer_value(json_object_get(ret, "actual")) >> 20));
	json_decref(ret);
	ret = NULL;
	if (qmp_execute(q, "qom-get",
			json_pack("{s:s,s:s}", "path", "/machine/peripheral/" QEMU_BALLOON_ID, "property", "guest-stats"),
			&ret, QMP_TIMEOUT_MS, NULL) == 0) {
		json_t *s = json_object_get(ret, "stats");
		json_int_t upd = json_integer_value(json_object_get(ret, "last-update"));
		const char *k;
		json_t *v;
		/* "stat-free-memory": bytes; QEMU reports -1 for what the guest did not send */
		stats = json_object();
		json_object_foreach(s, k, v) {
			if (json_is_integer(v) && json_integer_value(v) >= 0)
				json_object_set_new(stats, strncmp(k, "stat-", 5) == 0 ? k + 5 : k, json_incref(v));
		}
		if (upd > 0 && json_object_size(stats)) {
			json_object_set_new(out, "stats", stats);
			json_object_set_new(out, "stats_age_s", json_integer((json_int_t)time(NULL) - upd));
		} else {
			json_decref(stats);
		}
	}
	json_decref(ret);
	if (!json_object_get(out, "stats")) {
		json_object_set_new(out, "stats", json_null());
		json_object_set_new(out, "stats_age_s", json_null());
	}
	return out;
}
