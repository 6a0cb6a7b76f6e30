/*
 * metrics.c - the sampler thread, the RRD history it writes, the stats
 * answers read back from it and the Prometheus text of the newest sample
 * (see metrics.h).
 *
 * One cycle: read the host's counters and every running VM's into a new
 * struct m_sample (no lock held: the files and QMP), write one RRD row per
 * file under m_io_lock, then swap the sample in as the newest under
 * m_lock.  svc_metrics_forget takes m_io_lock too, and the uuids it
 * forgot during a cycle are skipped by that cycle's writes, so a VM
 * deleted while it was being sampled leaves no file behind.
 *
 * Lock order: m_io_lock, then m_lock; neither is held across a QMP call.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "service/metrics.h"
#include "service/alarms.h"
#include "service/internal.h"
#include "core/store.h"
#include "core/vmstate.h"
#include "metrics/expo.h"
#include "metrics/procstat.h"
#include "metrics/rrdstore.h"
#include "net/tap.h"
#include "qemu/qmp.h"
#include "qemu/runtime.h"
#include "storage/pool.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

/* Files of VMs and pools this host no longer has are looked for this often. */
#define SWEEP_S 600

/* ---- data sources of each file (rrdstore.h) ---- */

static const struct rrds_ds vm_ds[] = { { "cpu", true }, { "rss", false }, { "balloon", false } };
static const struct rrds_ds disk_ds[] = {
	{ "rd_bytes", true }, { "wr_bytes", true }, { "rd_ops", true }, { "wr_ops", true }
};
/* the guest's view: what it received is what the tap sent */
static const struct rrds_ds nic_ds[] = {
	{ "rx_bytes", true }, { "tx_bytes", true }, { "rx_packets", true }, { "tx_packets", true }
};
static const struct rrds_ds host_ds[] = { { "cpu_busy", true }, { "cpu_total", true }, { "mem_used", false },
					  { "mem_total", false }, { "load1", false },  { "load5", false },
					  { "load15", false } };
static const struct rrds_ds pool_ds[] = { { "used", false }, { "size", false } };

/* How a data source is shown: its series name, unit and scale (the host's
 * "cpu" is cpu_busy over cpu_total, special-cased). */
struct m_show {
	const char *ds, *name, *unit;
	double scale;
};
static const struct m_show vm_show[] = {
	{ "cpu", "cpu", "%", 1e-4 }, /* µs of CPU per second -> percent of one CPU */
	{ "rss", "memory_rss", "bytes", 1 },
	{ "balloon", "balloon", "bytes", 1 },
};
static const struct m_show disk_show[] = {
	{ "rd_bytes", "disk_read", "bytes/s", 1 },
	{ "wr_bytes", "disk_write", "bytes/s", 1 },
	{ "rd_ops", "disk_read_ops", "ops/s", 1 },
	{ "wr_ops", "disk_write_ops", "ops/s", 1 },
};
static const struct m_show nic_show[] = {
	{ "rx_bytes", "net_receive", "bytes/s", 1 },
	{ "tx_bytes", "net_transmit", "bytes/s", 1 },
	{ "rx_packets", "net_receive_packets", "packets/s", 1 },
	{ "tx_packets", "net_transmit_packets", "packets/s", 1 },
};
static const struct m_show host_show[] = {
	{ "cpu_busy", "cpu", "%", 100 }, /* over cpu_total: percent of all the host's CPUs */
	{ "mem_used", "memory_used", "bytes", 1 },
	{ "mem_total", "memory_total", "bytes", 1 },
	{ "load1", "load1", "", 1 },
	{ "load5", "load5", "", 1 },
	{ "load15", "load15", "", 1 },
};
static const struct m_show pool_show[] = {
	{ "used", "pool_used", "bytes", 1 },
	{ "size", "pool_size", "bytes", 1 },
};

/* ---- one sample ---- */

struct m_disk {
	char vol[NAME_MAX_LEN + 1];
	struct ps_blk s;
};
struct m_nic {
	char mac[18];
	struct ps_net s; /* the guest's view (rx: what the tap transmitted) */
};
struct m_vm {
	char uuid[37];
	char *name;
	bool has_cpu, has_rss, has_balloon;
	uint64_t cpu_us, rss, balloon;
	struct m_disk *disks;
	size_t ndisks;
	struct m_nic *nics;
	size_t nnics;
};
struct m_pool {
	char name[NAME_MAX_LEN + 1];
	uint64_t used, size;
};
struct m_sample {
	time_t t;
	int64_t t_ms; /* wall clock, for the rates alarms compare */
	bool has_cpu, has_mem, has_load;
	struct ps_cpu cpu;
	struct ps_mem mem;
	struct ps_load load;
	struct m_pool *pools;
	size_t npools;
	struct m_vm *vms;
	size_t nvms;
};

static void sample_free(struct m_sample *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nvms; i++) {
		free(s->vms[i].name);
		free(s->vms[i].disks);
		free(s->vms[i].nics);
	}
	free(s->vms);
	free(s->pools);
	free(s);
}

/* ---- state ---- */

static pthread_mutex_t m_lock = PTHREAD_MUTEX_INITIALIZER;    /* newest, stats, qmp_slow */
static pthread_mutex_t m_io_lock = PTHREAD_MUTEX_INITIALIZER; /* the files; forgotten */
static pthread_cond_t m_cond = PTHREAD_COND_INITIALIZER;
static pthread_t m_thread;
static bool m_running, m_stop;
static unsigned m_interval = SVC_METRICS_DEFAULT_INTERVAL_S;
static struct m_sample *newest;
/* the sampler's own cost (GET /metrics shows it) */
static uint64_t m_cycles, m_cpu_ns, m_vms_sampled;
/* VMs whose QEMU did not answer in time: not asked before `until` (monotonic ms) */
struct m_slow {
	char uuid[37];
	int64_t until;
};
static struct m_slow *qmp_slow;
static size_t n_qmp_slow;
/* uuids forgotten during the current cycle (under m_io_lock) */
static char (*forgotten)[37];
static size_t n_forgotten;

static char *metrics_dir(void) { return xasprintf("%s/metrics", svc_cfg.state_dir); }
static char *vm_dir(const char *uuid) { return xasprintf("%s/metrics/vms/%s", svc_cfg.state_dir, uuid); }

static bool qmp_is_slow(const char *uuid)
{
	bool slow = false;
	int64_t now = time_mono_ms();
	pthread_mutex_lock(&m_lock);
	for (size_t i = 0; i < n_qmp_slow; i++)
		if (strcmp(qmp_slow[i].uuid, uuid) == 0 && qmp_slow[i].until > now)
			slow = true;
	pthread_mutex_unlock(&m_lock);
	return slow;
}

static void qmp_mark_slow(const char *uuid, const char *name)
{
	int64_t until = time_mono_ms() + SVC_METRICS_QMP_BACKOFF_S * 1000LL, now = time_mono_ms();
	size_t i;
	pthread_mutex_lock(&m_lock);
	for (i = 0; i < n_qmp_slow; i++)
		if (strcmp(qmp_slow[i].uuid, uuid) == 0 || qmp_slow[i].until <= now)
			break;
	if (i == n_qmp_slow)
		qmp_slow = xrealloc(qmp_slow, ++n_qmp_slow * sizeof(*qmp_slow));
	snprintf(qmp_slow[i].uuid, sizeof(qmp_slow[i].uuid), "%s", uuid);
	qmp_slow[i].until = until;
	pthread_mutex_unlock(&m_lock);
	log_info("vm %s: QEMU did not answer the metrics sampler within %d ms; its disk and balloon figures are not "
		 "asked for during %d s",
		 name, SVC_METRICS_QMP_MS, SVC_METRICS_QMP_BACKOFF_S);
}

/* ---- reading ---- */

/* The disks (query-blockstats) and balloon of a running VM over QMP. */
static void sample_qmp(const struct vm_def *d, struct m_vm *v)
{
	struct rt_ref *ref = NULL;
	struct buf err = BUF_INIT;
	json_t *ret = NULL;
	struct qmp *q;
	int r;

	if (qmp_is_slow(d->uuid) || !(q = rt_qmp_acquire(d->uuid, &ref, &err)))
		goto out;
	r = qmp_execute(q, "query-blockstats", NULL, &ret, SVC_METRICS_QMP_MS, NULL);
	if (r == 0) {
		struct ps_blk *blk = NULL;
		size_t n = 0;
		__do_json json_t *nodes = rt_disk_nodes(d->uuid);
		ps_blockstats_parse(ret, &blk, &n);
		for (size_t i = 0; i < n; i++) {
			const char *key;
			json_t *node;
			json_object_foreach(nodes, key, node) {
				const char *dev = json_string_value(json_object_get(node, "device"));
				if (!dev || strcmp(dev, blk[i].device) != 0 || str_name_invalid(key))
					continue;
				v->disks = xrealloc(v->disks, (v->ndisks + 1) * sizeof(*v->disks));
				snprintf(v->disks[v->ndisks].vol, sizeof(v->disks[0].vol), "%s", key);
				v->disks[v->ndisks++].s = blk[i];
			}
		}
		free(blk);
	}
	json_decref(ret);
	ret = NULL;
	if (r == 0 && d->balloon) {
		r = qmp_execute(q, "query-balloon", NULL, &ret, SVC_METRICS_QMP_MS, NULL);
		json_t *actual = json_object_get(ret, "actual");
		if (r == 0 && json_is_integer(actual) && json_integer_value(actual) >= 0) {
			v->has_balloon = true;
			v->balloon = (uint64_t)json_integer_value(actual);
		}
		json_decref(ret);
		if (r == -EIO) /* no balloon device after all: not slow */
			r = 0;
	}
	if (r == -ETIMEDOUT)
		qmp_mark_slow(d->uuid, d->name);
out:
	rt_qmp_release(ref);
	buf_release(&err);
}

static bool sample_vm(const struct vm_def *d, struct m_vm *v)
{
	struct rt_usage u;
	memset(v, 0, sizeof(*v));
	if (rt_usage_get(d->uuid, &u) < 0)
		return false;
	snprintf(v->uuid, sizeof(v->uuid), "%s", d->uuid);
	v->name = xstrdup(d->name);
	if (u.cg.has_cpu) {
		v->has_cpu = true;
		v->cpu_us = u.cg.cpu_ns / 1000;
	} else if (u.pid > 0 && ps_proc_cpu_read(u.pid, &v->cpu_us) == 0) {
		v->has_cpu = true;
	}
	v->has_rss = u.pid > 0 && ps_rss_read(u.pid, &v->rss) == 0;
	for (int i = 0; i < d->nnics; i++) {
		char tap[TAP_NAME_LEN];
		struct ps_net n;
		if (d->nics[i].mode != NIC_NETWORK)
			continue;
		tap_name(d->uuid, d->nics[i].mac, tap);
		if (ps_net_read(tap, &n) < 0)
			continue;
		v->nics = xrealloc(v->nics, (v->nnics + 1) * sizeof(*v->nics));
		snprintf(v->nics[v->nnics].mac, sizeof(v->nics[0].mac), "%s", d->nics[i].mac);
		v->nics[v->nnics++].s = (struct ps_net){ .rx_bytes = n.tx_bytes,
							 .tx_bytes = n.rx_bytes,
							 .rx_packets = n.tx_packets,
							 .tx_packets = n.rx_packets };
	}
	sample_qmp(d, v);
	return true;
}

static struct m_sample *sample_take(void)
{
	struct m_sample *s = xcalloc(1, sizeof(*s));
	struct vm_record *list = NULL;
	struct pool_record *pools = NULL;
	size_t n = 0, np = 0;

	s->t_ms = time_wall_ms();
	s->t = (time_t)(s->t_ms / 1000);
	s->has_cpu = ps_cpu_read(&s->cpu) == 0;
	s->has_mem = ps_mem_read(&s->mem) == 0;
	s->has_load = ps_load_read(&s->load) == 0;
	if (store_pool_list(svc_cfg.store, &pools, &np) == 0) {
		s->pools = xcalloc(np + 1, sizeof(*s->pools));
		for (size_t i = 0; i < np; i++) {
			struct pool_usage pu;
			struct buf err = BUF_INIT;
			if (!str_name_invalid(pools[i].name) && pool_usage_get(pools[i].path, &pu, &err) == 0) {
				struct m_pool *p = &s->pools[s->npools++];
				snprintf(p->name, sizeof(p->name), "%s", pools[i].name);
				p->used = pu.used;
				p->size = pu.capacity;
			}
			buf_release(&err);
		}
		store_pool_list_free(pools, np);
	}
	if (store_vm_list(svc_cfg.store, &list, &n) == 0) {
		s->vms = xcalloc(n + 1, sizeof(*s->vms));
		for (size_t i = 0; i < n; i++)
			if (!list[i].invalid && !list[i].host && vmstate_is_active(list[i].state) &&
			    sample_vm(list[i].def, &s->vms[s->nvms]))
				s->nvms++;
		store_vm_list_free(list, n);
	}
	return s;
}

/* ---- writing ---- */

static void write_file(const char *path, const struct rrds_ds *ds, size_t nds, time_t t, const double *values)
{
	struct buf err = BUF_INIT;
	int r = rrds_update(path, m_interval, ds, nds, t, values, &err);
	if (r < 0 && r != -EEXIST)
		log_warn("metrics: %s", err.s);
	buf_release(&err);
}

static bool was_forgotten(const char *uuid)
{
	for (size_t i = 0; i < n_forgotten; i++)
		if (strcmp(forgotten[i], uuid) == 0)
			return true;
	return false;
}

static double known(bool has, uint64_t v) { return has ? (double)v : NAN; }

static void sample_write(const struct m_sample *s)
{
	__do_free char *dir = metrics_dir();
	__do_free char *pools_dir = xasprintf("%s/pools", dir);
	__do_free char *host = xasprintf("%s/host.rrd", dir);

	pthread_mutex_lock(&m_io_lock);
	if (fs_mkdir_p(pools_dir, 0700) < 0) {
		log_warn("metrics: cannot create %s", pools_dir);
		goto out;
	}
	{
		double hv[] = { known(s->has_cpu, s->cpu.busy_us),
				known(s->has_cpu, s->cpu.total_us),
				known(s->has_mem, s->mem.total - s->mem.available),
				known(s->has_mem, s->mem.total),
				s->has_load ? s->load.load1 : NAN,
				s->has_load ? s->load.load5 : NAN,
				s->has_load ? s->load.load15 : NAN };
		write_file(host, host_ds, ARRAY_SIZE(host_ds), s->t, hv);
	}
	for (size_t i = 0; i < s->npools; i++) {
		__do_free char *p = xasprintf("%s/%s.rrd", pools_dir, s->pools[i].name);
		double pv[] = { (double)s->pools[i].used, (double)s->pools[i].size };
		write_file(p, pool_ds, ARRAY_SIZE(pool_ds), s->t, pv);
	}
	for (size_t i = 0; i < s->nvms; i++) {
		const struct m_vm *v = &s->vms[i];
		__do_free char *vdir = vm_dir(v->uuid);
		__do_free char *vf = xasprintf("%s/vm.rrd", vdir);
		if (was_forgotten(v->uuid) || fs_mkdir_p(vdir, 0700) < 0)
			continue;
		double vv[] = { known(v->has_cpu, v->cpu_us), known(v->has_rss, v->rss),
				known(v->has_balloon, v->balloon) };
		write_file(vf, vm_ds, ARRAY_SIZE(vm_ds), s->t, vv);
		for (size_t k = 0; k < v->ndisks; k++) {
			__do_free char *f = xasprintf("%s/disk-%s.rrd", vdir, v->disks[k].vol);
			const struct ps_blk *b = &v->disks[k].s;
			double dv[] = { (double)b->rd_bytes, (double)b->wr_bytes, (double)b->rd_ops, (double)b->wr_ops };
			write_file(f, disk_ds, ARRAY_SIZE(disk_ds), s->t, dv);
		}
		for (size_t k = 0; k < v->nnics; k++) {
			char mac[18];
			snprintf(mac, sizeof(mac), "%s", v->nics[k].mac);
			for (char *c = mac; *c; c++)
				if (*c == ':')
					*c = '-';
			__do_free char *f = xasprintf("%s/nic-%s.rrd", vdir, mac);
			const struct ps_net *n = &v->nics[k].s;
			double nv[] = { (double)n->rx_bytes, (double)n->tx_bytes, (double)n->rx_packets,
					(double)n->tx_packets };
			write_file(f, nic_ds, ARRAY_SIZE(nic_ds), s->t, nv);
		}
	}
out:
	pthread_mutex_unlock(&m_io_lock);
}

/* ---- alarms ---- */

static void obs_set(struct svc_alarm_obs *o, const char *metric, double v, double pct)
{
	int i = alarm_metric_index(metric);
	if (i >= 0) {
		o->value[i] = v;
		o->percent[i] = pct;
	}
}

static const struct m_vm *vm_in(const struct m_sample *s, const char *uuid)
{
	for (size_t i = 0; s && i < s->nvms; i++)
		if (strcmp(s->vms[i].uuid, uuid) == 0)
			return &s->vms[i];
	return NULL;
}

/* b - a per second over dt, or NAN when a counter went back (a new QEMU) or there is no interval. */
static double rate(uint64_t a, uint64_t b, double dt) { return dt > 0 && b >= a ? (double)(b - a) / dt : NAN; }

/* The round's figures as alarm observations (rates against the previous round),
 * handed to the alarm rules (service/alarms.h). */
static void sample_alarms(const struct m_sample *prev, const struct m_sample *s)
{
	size_t n = 0, cap = s->nvms + s->npools + 1;
	struct svc_alarm_obs *obs = xcalloc(cap, sizeof(*obs));
	double dt = prev ? (double)(s->t_ms - prev->t_ms) / 1000.0 : 0;

	for (size_t i = 0; i < cap; i++)
		for (size_t k = 0; k < ALARM_METRICS_MAX; k++)
			obs[i].value[k] = obs[i].percent[k] = NAN;
	/* the host */
	struct svc_alarm_obs *h = &obs[n++];
	h->scope = ALARM_SCOPE_HOST;
	h->id = "host";
	h->name = svc_cfg.host_name ? svc_cfg.host_name : "";
	if (prev && prev->has_cpu && s->has_cpu && s->cpu.total_us > prev->cpu.total_us) {
		double busy = rate(prev->cpu.busy_us, s->cpu.busy_us, 1), total = (double)(s->cpu.total_us - prev->cpu.total_us);
		double pct = isnan(busy) ? NAN : 100.0 * busy / total;
		obs_set(h, "host_cpu", pct, pct);
	}
	if (s->has_mem && s->mem.total)
		obs_set(h, "host_memory", (double)(s->mem.total - s->mem.available),
			100.0 * (double)(s->mem.total - s->mem.available) / (double)s->mem.total);
	if (s->has_load)
		obs_set(h, "host_load", s->load.load1, NAN);
	for (size_t i = 0; i < s->npools; i++) {
		struct svc_alarm_obs *o = &obs[n++];
		o->scope = ALARM_SCOPE_POOL;
		o->id = o->name = s->pools[i].name;
		obs_set(o, "pool_used", (double)s->pools[i].used,
			s->pools[i].size ? 100.0 * (double)s->pools[i].used / (double)s->pools[i].size : NAN);
	}
	for (size_t i = 0; i < s->nvms; i++) {
		const struct m_vm *v = &s->vms[i], *p = vm_in(prev, v->uuid);
		struct svc_alarm_obs *o = &obs[n++];
		o->scope = ALARM_SCOPE_VM;
		o->id = v->uuid;
		o->name = v->name;
		if (v->has_rss)
			obs_set(o, "memory", (double)v->rss, NAN);
		if (!p)
			continue;
		if (v->has_cpu && p->has_cpu)
			obs_set(o, "cpu", rate(p->cpu_us, v->cpu_us, dt) / 1e4, NAN); /* µs/s -> % of one CPU */
		uint64_t rd[2] = { 0 }, wr[2] = { 0 }, rx[2] = { 0 }, tx[2] = { 0 };
		for (size_t k = 0; k < p->ndisks; k++)
			rd[0] += p->disks[k].s.rd_bytes, wr[0] += p->disks[k].s.wr_bytes;
		for (size_t k = 0; k < v->ndisks; k++)
			rd[1] += v->disks[k].s.rd_bytes, wr[1] += v->disks[k].s.wr_bytes;
		for (size_t k = 0; k < p->nnics; k++)
			rx[0] += p->nics[k].s.rx_bytes, tx[0] += p->nics[k].s.tx_bytes;
		for (size_t k = 0; k < v->nnics; k++)
			rx[1] += v->nics[k].s.rx_bytes, tx[1] += v->nics[k].s.tx_bytes;
		if (v->ndisks && v->ndisks == p->ndisks) { /* a disk missing (QEMU slow) is no rate */
			obs_set(o, "disk_read", rate(rd[0], rd[1], dt), NAN);
			obs_set(o, "disk_write", rate(wr[0], wr[1], dt), NAN);
		}
		if (v->nnics && v->nnics == p->nnics) {
			obs_set(o, "net_receive", rate(rx[0], rx[1], dt), NAN);
			obs_set(o, "net_transmit", rate(tx[0], tx[1], dt), NAN);
		}
	}
	svc_alarms_on_sample(obs, n, s->t_ms);
	free(obs);
}

/* Remove the files of a flat directory, then the directory. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		__do_free char *p = xasprintf("%s/%s", dir, e->d_name);
		if (unlink(p) < 0 && errno != ENOENT)
			log_warn("metrics: cannot remove %s: %s", p, strerror(errno));
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("metrics: cannot remove %s: %s", dir, strerror(errno));
}

/* Files of VMs and pools this host no longer has. */
static void sweep(void)
{
	struct vm_record *list = NULL;
	struct pool_record *pools = NULL;
	size_t n = 0, np = 0;
	__do_free char *vms = xasprintf("%s/metrics/vms", svc_cfg.state_dir);
	__do_free char *pdir = xasprintf("%s/metrics/pools", svc_cfg.state_dir);
	DIR *d;
	struct dirent *e;

	if (store_vm_list(svc_cfg.store, &list, &n) < 0)
		return;
	if (store_pool_list(svc_cfg.store, &pools, &np) < 0) {
		store_vm_list_free(list, n);
		return;
	}
	pthread_mutex_lock(&m_io_lock);
	if ((d = opendir(vms))) {
		while ((e = readdir(d))) {
			bool keep = e->d_name[0] == '.';
			for (size_t i = 0; i < n && !keep; i++)
				keep = strcmp(list[i].def->uuid, e->d_name) == 0 && !list[i].host;
			if (!keep) {
				__do_free char *p = xasprintf("%s/%s", vms, e->d_name);
				log_info("metrics: removing the history of VM %s (no longer on this host)", e->d_name);
				remove_dir(p);
			}
		}
		closedir(d);
	}
	if ((d = opendir(pdir))) {
		while ((e = readdir(d))) {
			size_t len = strlen(e->d_name);
			bool keep = e->d_name[0] == '.' || len < 4 || strcmp(e->d_name + len - 4, ".rrd") != 0;
			for (size_t i = 0; i < np && !keep; i++)
				keep = len == strlen(pools[i].name) + 4 && strncmp(e->d_name, pools[i].name, len - 4) == 0 &&
				       strcmp(e->d_name + len - 4, ".rrd") == 0;
			if (!keep) {
				__do_free char *p = xasprintf("%s/%s", pdir, e->d_name);
				unlink(p);
			}
		}
		closedir(d);
	}
	pthread_mutex_unlock(&m_io_lock);
	store_vm_list_free(list, n);
	store_pool_list_free(pools, np);
}

void svc_metrics_forget(const char *uuid)
{
	__do_free char *dir = vm_dir(uuid);
	pthread_mutex_lock(&m_io_lock);
	forgotten = xrealloc(forgotten, (n_forgotten + 1) * sizeof(*forgotten));
	snprintf(forgotten[n_forgotten++], sizeof(*forgotten), "%s", uuid);
	remove_dir(dir);
	pthread_mutex_unlock(&m_io_lock);
}

/* ---- the thread ---- */

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *m_main(void *arg)
{
	int64_t next = time_mono_ms(), next_sweep = 0;
	(void)arg;
	pthread_mutex_lock(&m_lock);
	while (!m_stop) {
		int64_t now = time_mono_ms();
		if (now < next) {
			struct timespec ts = time_realtime_in(next - now);
			pthread_cond_timedwait(&m_cond, &m_lock, &ts);
			continue;
		}
		next = now + m_interval * 1000LL;
		pthread_mutex_unlock(&m_lock);

		int64_t cpu0 = thread_cpu_ns();
		if (now >= next_sweep) {
			sweep();
			next_sweep = now + SWEEP_S * 1000LL;
		}
		pthread_mutex_lock(&m_io_lock);
		n_forgotten = 0; /* before the VM list is read: see the file comment */
		pthread_mutex_unlock(&m_io_lock);
		struct m_sample *s = sample_take();
		sample_write(s);
		sample_alarms(newest, s); /* newest: only this thread changes it */
		int64_t used = thread_cpu_ns() - cpu0;

		pthread_mutex_lock(&m_lock);
		sample_free(newest);
		newest = s;
		m_cycles++;
		m_cpu_ns += (uint64_t)used;
		m_vms_sampled += s->nvms;
		log_debug("metrics: sampled the host and %zu VMs in %.3f ms of CPU", s->nvms, (double)used / 1e6);
	}
	pthread_mutex_unlock(&m_lock);
	return NULL;
}

int svc_metrics_start(unsigned interval_s, struct buf *err)
{
	__do_free char *dir = metrics_dir();
	int r;
	m_interval = interval_s ? interval_s : SVC_METRICS_DEFAULT_INTERVAL_S;
	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		buf_printf(err, "cannot create the metrics directory %s: %s", dir, strerror(-r));
		return r;
	}
	m_stop = false;
	if ((r = pthread_create(&m_thread, NULL, m_main, NULL)) != 0) {
		buf_adds(err, "cannot start the metrics sampler");
		return -r;
	}
	m_running = true;
	log_info("metrics: sampling every %u s into %s", m_interval, dir);
	return 0;
}

void svc_metrics_stop(void)
{
	if (!m_running)
		return;
	pthread_mutex_lock(&m_lock);
	m_stop = true;
	pthread_cond_signal(&m_cond);
	pthread_mutex_unlock(&m_lock);
	pthread_join(m_thread, NULL);
	m_running = false;
	pthread_mutex_lock(&m_lock);
	sample_free(newest);
	newest = NULL;
	free(qmp_slow);
	qmp_slow = NULL;
	n_qmp_slow = 0;
	pthread_mutex_unlock(&m_lock);
	pthread_mutex_lock(&m_io_lock);
	free(forgotten);
	forgotten = NULL;
	n_forgotten = 0;
	pthread_mutex_unlock(&m_io_lock);
}

/* ---- stats answers ---- */

int svc_metrics_since_parse(const char *s, int64_t *seconds, struct buf *err)
{
	static const struct {
		char unit;
		int64_t s;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 } };
	size_t n = s ? strlen(s) : 0;
	int64_t mult = 1, v;
	__do_free char *num = NULL;

	if (n && !(s[n - 1] >= '0' && s[n - 1] <= '9')) {
		mult = 0;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++)
			if (s[n - 1] == units[i].unit)
				mult = units[i].s;
		n--;
	}
	num = xstrndup(s ? s : "", n);
	if (!mult || !n || str_parse_int(num, 1, SVC_METRICS_SINCE_MAX, &v) < 0 || v > SVC_METRICS_SINCE_MAX / mult) {
		buf_printf(err, "invalid since '%.32s': want a duration like 90s, 30m, 1h, 2d or 1w (at most 366 days)",
			   s ? s : "");
		return -EINVAL;
	}
	*seconds = v * mult;
	return 0;
}

/* The series of the file at path as `show` says, appended to series. */
static void add_series(json_t *series, const char *path, const struct m_show *show, size_t nshow,
		       const char *label, const char *label_value, time_t start, time_t end, unsigned long *step)
{
	struct rrds_series rs = RRDS_SERIES_INIT;
	struct buf err = BUF_INIT;
	int total_col = -1;

	if (rrds_fetch(path, start, end, &rs, &err) < 0) {
		if (fs_exists(path)) /* else: removed meanwhile (the VM deleted) */
			log_warn("metrics: %s", err.s);
		goto out;
	}
	if (rs.step > *step)
		*step = rs.step;
	for (size_t c = 0; c < rs.nds; c++)
		if (strcmp(rs.names[c], "cpu_total") == 0)
			total_col = (int)c;
	for (size_t k = 0; k < nshow; k++) {
		int col = -1;
		bool ratio = strcmp(show[k].ds, "cpu_busy") == 0 && total_col >= 0;
		for (size_t c = 0; c < rs.nds; c++)
			if (strcmp(rs.names[c], show[k].ds) == 0)
				col = (int)c;
		if (col < 0)
			continue;
		json_t *points = json_array();
		double cur = NAN, sum = 0, max = NAN;
		size_t count = 0;
		for (size_t row = 0; row < rs.rows; row++) {
			double a = rs.avg[row * rs.nds + (size_t)col], m = rs.max[row * rs.nds + (size_t)col];
			if (ratio) {
				double tot = rs.avg[row * rs.nds + (size_t)total_col];
				a = tot > 0 ? a / tot : NAN;
				m = tot > 0 ? m / tot : NAN;
			}
			a *= show[k].scale;
			m *= show[k].scale;
			time_t t = rs.start + (time_t)(row * rs.step);
			if (t > end) /* the row being filled: not a sample yet */
				break;
			json_array_append_new(points, json_pack("[I,o]", (json_int_t)t, isnan(a) ? json_null() : json_real(a)));
			if (!isnan(a)) {
				cur = a;
				sum += a;
				count++;
			}
			if (!isnan(m) && (isnan(max) || m > max))
				max = m;
			else if (isnan(m) && !isnan(a) && (isnan(max) || a > max))
				max = a;
		}
		json_t *e = json_pack("{s:s,s:s}", "name", show[k].name, "unit", show[k].unit);
		if (label)
			json_object_set_new(e, label, json_string(label_value));
		json_object_set_new(e, "current", isnan(cur) ? json_null() : json_real(cur));
		json_object_set_new(e, "average", count ? json_real(sum / (double)count) : json_null());
		json_object_set_new(e, "max", isnan(max) ? json_null() : json_real(max));
		json_object_set_new(e, "points", points);
		json_array_append_new(series, e);
	}
out:
	rrds_series_release(&rs);
	buf_release(&err);
}

/* The names in dir starting with prefix and ending in ".rrd", sorted (caller frees). */
static json_t *files_with(const char *dir, const char *prefix)
{
	json_t *a = json_array();
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);
	size_t pl = strlen(prefix);
	for (int i = 0; i < n; i++) {
		const char *f = ents[i]->d_name;
		size_t len = strlen(f);
		if (len > pl + 4 && strncmp(f, prefix, pl) == 0 && strcmp(f + len - 4, ".rrd") == 0)
			json_array_append_new(a, json_stringn(f + pl, len - pl - 4));
		free(ents[i]);
	}
	free(ents);
	return a;
}

static json_t *stats_head(int64_t since_s, time_t *start, time_t *end)
{
	*end = time(NULL);
	*start = *end - (time_t)since_s;
	return json_pack("{s:I,s:I,s:I}", "interval", (json_int_t)m_interval, "since", (json_int_t)*start, "until",
			 (json_int_t)*end);
}

int svc_metrics_vm(const char *uuid, int64_t since_s, json_t **out, struct buf *err)
{
	__do_free char *dir = vm_dir(uuid);
	__do_free char *vf = xasprintf("%s/vm.rrd", dir);
	time_t start, end;
	unsigned long step = 0;
	json_t *series, *names, *v;
	struct vm_record rec = { 0 };
	size_t i;

	if (store_vm_get(svc_cfg.store, uuid, &rec) < 0) {
		buf_adds(err, "vm not found");
		return -ENOENT;
	}
	json_t *j = stats_head(since_s, &start, &end);
	json_object_set_new(j, "vm", json_string(rec.def->name));
	json_object_set_new(j, "uuid", json_string(uuid));
	vm_record_release(&rec);
	series = json_array();
	add_series(series, vf, vm_show, ARRAY_SIZE(vm_show), NULL, NULL, start, end, &step);
	names = files_with(dir, "disk-");
	json_array_foreach(names, i, v) {
		__do_free char *f = xasprintf("%s/disk-%s.rrd", dir, json_string_value(v));
		add_series(series, f, disk_show, ARRAY_SIZE(disk_show), "disk", json_string_value(v), start, end, &step);
	}
	json_decref(names);
	names = files_with(dir, "nic-");
	json_array_foreach(names, i, v) {
		__do_free char *f = xasprintf("%s/nic-%s.rrd", dir, json_string_value(v));
		__do_free char *mac = xstrdup(json_string_value(v));
		for (char *c = mac; *c; c++)
			if (*c == '-')
				*c = ':';
		add_series(series, f, nic_show, ARRAY_SIZE(nic_show), "nic", mac, start, end, &step);
	}
	json_decref(names);
	json_object_set_new(j, "step", json_integer((json_int_t)step));
	json_object_set_new(j, "series", series);
	*out = j;
	return 0;
}

int svc_metrics_host(int64_t since_s, json_t **out, struct buf *err)
{
	__do_free char *dir = metrics_dir();
	__do_free char *hf = xasprintf("%s/host.rrd", dir);
	__do_free char *pdir = xasprintf("%s/pools", dir);
	time_t start, end;
	unsigned long step = 0;
	json_t *series = json_array(), *names, *v;
	size_t i;
	(void)err;

	json_t *j = stats_head(since_s, &start, &end);
	json_object_set_new(j, "host", json_string(svc_cfg.host_name ? svc_cfg.host_name : ""));
	add_series(series, hf, host_show, ARRAY_SIZE(host_show), NULL, NULL, start, end, &step);
	names = files_with(pdir, "");
	json_array_foreach(names, i, v) {
		__do_free char *f = xasprintf("%s/%s.rrd", pdir, json_string_value(v));
		add_series(series, f, pool_show, ARRAY_SIZE(pool_show), "pool", json_string_value(v), start, end, &step);
	}
	json_decref(names);
	json_object_set_new(j, "step", json_integer((json_int_t)step));
	json_object_set_new(j, "series", series);
	*out = j;
	return 0;
}

/* ---- Prometheus ---- */

void svc_metrics_prometheus(struct buf *out)
{
	const char *host = svc_cfg.host_name ? svc_cfg.host_name : "";
	pthread_mutex_lock(&m_lock);
	const struct m_sample *s = newest;

	expo_family(out, "corral_host_cpus", EXPO_GAUGE, "CPUs of the host.");
	if (s && s->has_cpu)
		expo_sample(out, "corral_host_cpus", (const char *const[]){ "host", host, NULL }, s->cpu.ncpus);
	expo_family(out, "corral_host_cpu_busy_seconds_total", EXPO_COUNTER,
		    "CPU time the host spent busy (all CPUs: user, nice, system, irq, softirq, steal).");
	if (s && s->has_cpu)
		expo_sample(out, "corral_host_cpu_busy_seconds_total", (const char *const[]){ "host", host, NULL },
			    (double)s->cpu.busy_us / 1e6);
	expo_family(out, "corral_host_cpu_seconds_total", EXPO_COUNTER,
		    "CPU time of all the host's CPUs, busy and idle.");
	if (s && s->has_cpu)
		expo_sample(out, "corral_host_cpu_seconds_total", (const char *const[]){ "host", host, NULL },
			    (double)s->cpu.total_us / 1e6);
	expo_family(out, "corral_host_memory_total_bytes", EXPO_GAUGE, "Memory of the host (MemTotal).");
	if (s && s->has_mem)
		expo_sample(out, "corral_host_memory_total_bytes", (const char *const[]){ "host", host, NULL },
			    (double)s->mem.total);
	expo_family(out, "corral_host_memory_available_bytes", EXPO_GAUGE,
		    "Memory available for new work without swapping (MemAvailable).");
	if (s && s->has_mem)
		expo_sample(out, "corral_host_memory_available_bytes", (const char *const[]){ "host", host, NULL },
			    (double)s->mem.available);
	static const char *const loads[] = { "corral_host_load1", "corral_host_load5", "corral_host_load15" };
	static const char *const load_help[] = { "Load average over 1 minute.", "Load average over 5 minutes.",
						 "Load average over 15 minutes." };
	for (size_t i = 0; i < ARRAY_SIZE(loads); i++) {
		expo_family(out, loads[i], EXPO_GAUGE, load_help[i]);
		if (s && s->has_load)
			expo_sample(out, loads[i], (const char *const[]){ "host", host, NULL },
				    i == 0 ? s->load.load1 : i == 1 ? s->load.load5 : s->load.load15);
	}
	expo_family(out, "corral_pool_size_bytes", EXPO_GAUGE, "Size of the filesystem holding the storage pool.");
	for (size_t i = 0; s && i < s->npools; i++)
		expo_sample(out, "corral_pool_size_bytes",
			    (const char *const[]){ "host", host, "pool", s->pools[i].name, NULL }, (double)s->pools[i].size);
	expo_family(out, "corral_pool_used_bytes", EXPO_GAUGE,
		    "Bytes in use on the filesystem holding the storage pool (by anything).");
	for (size_t i = 0; s && i < s->npools; i++)
		expo_sample(out, "corral_pool_used_bytes",
			    (const char *const[]){ "host", host, "pool", s->pools[i].name, NULL }, (double)s->pools[i].used);

	expo_family(out, "corral_vm_cpu_seconds_total", EXPO_COUNTER, "CPU time used by the VM's QEMU (its cgroup).");
	for (size_t i = 0; s && i < s->nvms; i++)
		if (s->vms[i].has_cpu)
			expo_sample(out, "corral_vm_cpu_seconds_total",
				    (const char *const[]){ "host", host, "vm", s->vms[i].name, NULL },
				    (double)s->vms[i].cpu_us / 1e6);
	expo_family(out, "corral_vm_memory_rss_bytes", EXPO_GAUGE, "Resident memory of the VM's QEMU process.");
	for (size_t i = 0; s && i < s->nvms; i++)
		if (s->vms[i].has_rss)
			expo_sample(out, "corral_vm_memory_rss_bytes",
				    (const char *const[]){ "host", host, "vm", s->vms[i].name, NULL }, (double)s->vms[i].rss);
	expo_family(out, "corral_vm_balloon_bytes", EXPO_GAUGE, "Memory the guest has while ballooned (query-balloon).");
	for (size_t i = 0; s && i < s->nvms; i++)
		if (s->vms[i].has_balloon)
			expo_sample(out, "corral_vm_balloon_bytes",
				    (const char *const[]){ "host", host, "vm", s->vms[i].name, NULL },
				    (double)s->vms[i].balloon);
	static const char *const disk_names[] = { "corral_vm_disk_read_bytes_total", "corral_vm_disk_written_bytes_total",
						  "corral_vm_disk_reads_completed_total",
						  "corral_vm_disk_writes_completed_total" };
	static const char *const disk_help[] = { "Bytes the guest read from the disk.", "Bytes the guest wrote to the disk.",
						 "Read operations the guest completed on the disk.",
						 "Write operations the guest completed on the disk." };
	for (size_t k = 0; k < ARRAY_SIZE(disk_names); k++) {
		expo_family(out, disk_names[k], EXPO_COUNTER, disk_help[k]);
		for (size_t i = 0; s && i < s->nvms; i++)
			for (size_t d = 0; d < s->vms[i].ndisks; d++) {
				const struct ps_blk *b = &s->vms[i].disks[d].s;
				uint64_t v = k == 0 ? b->rd_bytes : k == 1 ? b->wr_bytes : k == 2 ? b->rd_ops : b->wr_ops;
				expo_sample(out, disk_names[k],
					    (const char *const[]){ "host", host, "vm", s->vms[i].name, "disk",
								   s->vms[i].disks[d].vol, NULL },
					    (double)v);
			}
	}
	static const char *const nic_names[] = { "corral_vm_network_receive_bytes_total",
						 "corral_vm_network_transmit_bytes_total",
						 "corral_vm_network_receive_packets_total",
						 "corral_vm_network_transmit_packets_total" };
	static const char *const nic_help[] = { "Bytes the guest received on the NIC.", "Bytes the guest sent on the NIC.",
						"Packets the guest received on the NIC.", "Packets the guest sent on the NIC." };
	for (size_t k = 0; k < ARRAY_SIZE(nic_names); k++) {
		expo_family(out, nic_names[k], EXPO_COUNTER, nic_help[k]);
		for (size_t i = 0; s && i < s->nvms; i++)
			for (size_t n = 0; n < s->vms[i].nnics; n++) {
				const struct ps_net *c = &s->vms[i].nics[n].s;
				uint64_t v = k == 0 ? c->rx_bytes : k == 1 ? c->tx_bytes : k == 2 ? c->rx_packets : c->tx_packets;
				expo_sample(out, nic_names[k],
					    (const char *const[]){ "host", host, "vm", s->vms[i].name, "nic",
								   s->vms[i].nics[n].mac, NULL },
					    (double)v);
			}
	}
	expo_family(out, "corral_metrics_samples_total", EXPO_COUNTER, "Sampling rounds the metrics sampler made.");
	expo_sample(out, "corral_metrics_samples_total", (const char *const[]){ "host", host, NULL }, (double)m_cycles);
	expo_family(out, "corral_metrics_vm_samples_total", EXPO_COUNTER, "VM samples taken (one per running VM per round).");
	expo_sample(out, "corral_metrics_vm_samples_total", (const char *const[]){ "host", host, NULL },
		    (double)m_vms_sampled);
	expo_family(out, "corral_metrics_sampler_cpu_seconds_total", EXPO_COUNTER,
		    "CPU time the metrics sampler used (reading, QMP and RRD writes).");
	expo_sample(out, "corral_metrics_sampler_cpu_seconds_total", (const char *const[]){ "host", host, NULL },
		    (double)m_cpu_ns / 1e9);
	expo_family(out, "corral_metrics_last_sample_timestamp_seconds", EXPO_GAUGE,
		    "When the newest sample was taken (Unix time).");
	if (s)
		expo_sample(out, "corral_metrics_last_sample_timestamp_seconds", (const char *const[]){ "host", host, NULL },
			    (double)s->t);
	pthread_mutex_unlock(&m_lock);
}
