/*
 * host.c - svc_init, host information and job queries (see host.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "host.h"
#include "service/hostpath.h"
#include "service/policy.h"
#include "service/repo.h"
#include "service/service.h"
#include "service/volume.h"
#include "service/imgclient.h"
#include "service/agent.h"
#include "service/internal.h"
#include "core/job.h"
#include "core/store_local.h"
#include "qemu/argv.h"
#include "qemu/machine.h"
#include "qemu/cpumodel.h"
#include "qemu/reslimits.h"
#include "qemu/runtime.h"
#include "service/auth.h"
#include "service/session.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

struct svc_config svc_cfg;
pthread_mutex_t svc_defs_lock = PTHREAD_MUTEX_INITIALIZER;
static char qemu_version[128];

static struct qemu_machines machines;
static struct qemu_cpus cpu_models; /* probed once at svc_init; empty: not checked */

int svc_cpu_check(const struct vm_def *d, struct buf *err)
{
	enum accel_mode a = ACCEL_TCG;
	struct buf e = BUF_INIT;
	bool kvm = svc_cfg.accel && accel_resolve(svc_cfg.accel, d->accel, &a, &e) == 0 && a == ACCEL_KVM;
	buf_release(&e);
	return qemu_cpu_check(&cpu_models, d->cpu, kvm, err);
}

bool svc_cpu_known(const char *name) { return cpu_models.n && qemu_cpus_has(&cpu_models, name); }

json_t *svc_cpu_models(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < cpu_models.n; i++)
		json_array_append_new(a, json_string(cpu_models.names[i]));
	return a;
}

int svc_firmware_check(const struct vm_def *d, struct buf *err)
{
	__do_free char *code = NULL, *tmpl = NULL;
	if (d->firmware != FIRMWARE_UEFI)
		return 0;
	qemu_uefi_files(QEMU_OVMF_DIR, d->secure_boot, &code, &tmpl);
	const char *missing = access(code, R_OK) < 0 ? code : access(tmpl, R_OK) < 0 ? tmpl : NULL;
	if (missing) {
		buf_printf(err, "firmware uefi needs %s, which is missing: install the ovmf package", missing);
		return -ENOENT;
	}
	/* OVMF starts a kernel through its EFI stub: an ELF vmlinux (PVH) has none,
	 * and the guest would sit in the firmware's boot menu. */
	char magic[4] = { 0 };
	__do_buf struct buf e = BUF_INIT;
	__do_close int fd = d->boot_mode == BOOT_KERNEL && d->kernel ? hostpath_open("kernel", d->kernel, NULL, &e) : -1;
	if (fd >= 0 && pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) && !memcmp(magic, "\177ELF", 4)) {
		buf_printf(err,
			   "kernel %s is an ELF image (vmlinux): UEFI firmware boots only a kernel with an EFI stub "
			   "(bzImage, e.g. vmlinuz); use that one, or --firmware bios, which boots both",
			   d->kernel);
		return -EINVAL;
	}
	return 0;
}

int svc_machine_pin(struct vm_def *d, struct buf *err)
{
	const char *want = d->machine ? d->machine : "q35";
	const char *got;

	if (!machines.n)
		return 0;
	if (!(got = qemu_machines_resolve(&machines, want))) {
		buf_printf(err, "QEMU %s on this host lacks machine type %s (corral host info lists machine_types)",
			   qemu_version, want);
		return -ENOTSUP;
	}
	if (!d->machine || strcmp(d->machine, got) != 0) {
		free(d->machine);
		d->machine = xstrdup(got);
	}
	return 0;
}

json_t *svc_machine_types(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < machines.n; i++)
		if (strncmp(machines.names[i], "pc-q35-", 7) == 0)
			json_array_append_new(a, json_string(machines.names[i]));
	return a;
}

int svc_init(const struct svc_config *c, struct buf *err)
{
	struct cmd cmd = CMD_INIT;
	struct buf out = BUF_INIT;
	__do_free char *imgd_root = xasprintf("%s/imgd-root", c->run_dir);
	struct imgc_config icfg = { .helper = c->image_helper, .user = c->image_user, .root = imgd_root,
				    .timeout_s = c->image_timeout_s };
	int r;

	svc_cfg = *c;
	hostpath_init(c->allow_path, c->n_allow_path, c->allow_block_devices);
	if ((r = imgc_init(&icfg, err)) < 0)
		return r;
	cmd_add(&cmd, c->qemu_binary);
	cmd_add(&cmd, "--version");
	if (cmd_run(&cmd, &out, NULL) == 0) {
		const char *v = strstr(out.s, "version ");
		snprintf(qemu_version, sizeof(qemu_version), "%.*s", v ? (int)strcspn(v + 8, " \n") : 0, v ? v + 8 : "");
	}
	if (!qemu_version[0])
		snprintf(qemu_version, sizeof(qemu_version), "unknown (%s not runnable)", c->qemu_binary);
	cmd_release(&cmd);
	buf_release(&out);
	{
		struct buf merr = BUF_INIT;
		if (qemu_machines_probe(c->qemu_binary, &machines, &merr) < 0)
			log_warn("%s: machine types are not pinned in definitions", merr.s);
		buf_reset(&merr);
		if (qemu_cpus_probe(c->qemu_binary, &cpu_models, &merr) < 0)
			log_warn("%s: CPU models are not checked", merr.s);
		buf_release(&merr);
	}
	svc_auth_init();
	svc_session_init();
	svc_housekeeping_start();
	return 0;
}

void svc_shutdown(void)
{
	svc_housekeeping_stop();
	imgc_shutdown();
	hostpath_shutdown();
	svc_session_shutdown();
	svc_auth_shutdown();
	svc_agent_forget_all();
	qemu_machines_release(&machines);
	qemu_cpus_release(&cpu_models);
}

/* MemAvailable from /proc/meminfo (MiB), or -1. */
static long long mem_available_mib(void)
{
	struct buf b = BUF_INIT;
	long long kib = -1;
	if (fs_read_file("/proc/meminfo", 1 << 16, &b) == 0) {
		const char *p = strstr(b.s, "MemAvailable:");
		if (p)
			kib = strtoll(p + 13, NULL, 10);
	}
	buf_release(&b);
	return kib < 0 ? -1 : kib >> 10;
}

/* What the running VMs commit of this host against what it has, with warnings on overcommit. */
static json_t *capacity(const struct vm_record *list, size_t n, int cpus, long long mem_mib)
{
	long long vcpus = 0, cpu_centi = 0, ram = 0, limits = 0;
	json_t *warn = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct vm_def *d = list[i].def;
		enum accel_mode a;
		struct buf e = BUF_INIT;
		if (!vmstate_is_active(list[i].state))
			continue;
		if (accel_resolve(svc_cfg.accel, d->accel, &a, &e) < 0)
			a = ACCEL_TCG;
		buf_release(&e);
		vcpus += d->cpus;
		/* a VM can use at most its vCPUs, its limit if lower */
		cpu_centi += d->limits.cpu_limit_centi && d->limits.cpu_limit_centi < d->cpus * 100 ? d->limits.cpu_limit_centi
												     : d->cpus * 100;
		ram += d->limits.memory_target_mib ? d->limits.memory_target_mib : d->memory_mib;
		long long lim = qemu_limits_memory_mib(d, a);
		limits += lim ? lim : d->memory_mib + qemu_memory_overhead_mib(d->memory_mib, a);
	}
	if (cpu_centi > cpus * 100LL)
		json_array_append_new(warn, json_sprintf("CPU overcommitted: running VMs may use %.2f CPUs, the host has %d",
							 (double)cpu_centi / 100, cpus));
	if (limits > mem_mib)
		json_array_append_new(warn, json_sprintf("memory overcommitted: running VMs may use %lld MiB with QEMU's "
							 "overhead, the host has %lld MiB", limits, mem_mib));
	long long avail = mem_available_mib();
	return json_pack("{s:i,s:I,s:I,s:f,s:I,s:I,s:o,s:o}", "cpus", cpus, "committed_vcpus", (json_int_t)vcpus,
			 "memory_mib", (json_int_t)mem_mib, "committed_cpus", (double)cpu_centi / 100,
			 "committed_memory_mib", (json_int_t)ram, "committed_memory_limit_mib", (json_int_t)limits,
			 "available_memory_mib", avail >= 0 ? json_integer(avail) : json_null(), "warnings", warn);
}

json_t *svc_host_info(void)
{
	char host[256] = "";
	struct sysinfo si;
	struct vm_record *list;
	size_t n = 0, running = 0;
	json_t *cap = NULL, *j;
	int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);

	gethostname(host, sizeof(host) - 1);
	sysinfo(&si);
	long long mem = (long long)((uint64_t)si.totalram * si.mem_unit >> 20);
	if (store_vm_list(svc_cfg.store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (vmstate_is_active(list[i].state))
				running++;
		cap = capacity(list, n, cpus, mem);
		store_vm_list_free(list, n);
	}
	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:s,s:s,s:s,s:I,s:I,s:s?,s:s?}", "hostname", host, "version",
			 CORRAL_VERSION, "qemu_binary", svc_cfg.qemu_binary, "qemu_version", qemu_version, "accel",
			 svc_cfg.accel->kvm_usable ? "kvm" : "tcg", "accel_reason", svc_cfg.accel->reason, "cpus",
			 (int)sysconf(_SC_NPROCESSORS_ONLN), "memory_mib",
			 (json_int_t)((uint64_t)si.totalram * si.mem_unit >> 20), "state_dir", svc_cfg.state_dir,
			 "storage_dir", svc_cfg.storage_dir, "run_dir", svc_cfg.run_dir, "vms_total", (json_int_t)n,
			 "vms_running", (json_int_t)running, "listen", svc_cfg.listen, "tls_fingerprint",
			 svc_cfg.tls_fingerprint);
	json_object_set_new(j, "capacity", cap ? cap : json_null());
	json_object_set_new(j, "machine_types", svc_machine_types());
	json_object_set_new(j, "cpu_models", svc_cpu_models());
	return j;
}

json_t *svc_host_export(void)
{
	char host[256] = "", stamp[40];
	struct vm_record *vms = NULL;
	struct pool_record *pools = NULL;
	size_t nvms = 0, npools = 0;
	json_t *j;

	gethostname(host, sizeof(host) - 1);
	j = json_pack("{s:s,s:i,s:s,s:s,s:[],s:o,s:[],s:o,s:o}", "format", "corral-host-export", "version", 1, "host",
		      host, "exported", time_fmt_rfc3339(time_wall_ms(), stamp, sizeof(stamp)), "vms", "volumes",
		      svc_vol_list(), "pools", "repositories", svc_repo_list(), "policies", svc_policy_list());
	/* alarm rules as stored: never a password (that is a file of its own, alarms.h) */
	struct alarm_record *alarms = NULL;
	size_t nalarms = 0;
	json_t *aa = json_array();
	if (store_alarm_list(svc_cfg.store, &alarms, &nalarms) == 0)
		for (size_t i = 0; i < nalarms; i++) {
			json_t *a = json_loads(alarms[i].def, 0, NULL);
			if (!json_is_object(a))
				continue;
			json_object_set_new(a, "name", json_string(alarms[i].name));
			json_array_append_new(aa, a);
		}
	store_alarm_list_free(alarms, nalarms);
	json_object_set_new(j, "alarms", aa);
	if (store_vm_list(svc_cfg.store, &vms, &nvms) == 0) {
		for (size_t i = 0; i < nvms; i++) {
			json_t *v = vmdef_to_json(vms[i].def);
			json_object_set_new(v, "state", json_string(vmstate_name(vms[i].state)));
			json_array_append_new(json_object_get(j, "vms"), v);
		}
		store_vm_list_free(vms, nvms);
	}
	if (store_pool_list(svc_cfg.store, &pools, &npools) == 0) {
		for (size_t i = 0; i < npools; i++)
			json_array_append_new(json_object_get(j, "pools"),
					      json_pack("{s:s,s:s,s:b}", "name", pools[i].name, "path", pools[i].path,
							"shared", pools[i].shared));
		store_pool_list_free(pools, npools);
	}
	return j;
}

json_t *svc_job_list(const char *vm_uuid) { return job_list(vm_uuid, 50); }


json_t *svc_job_get(int64_t id) { return job_get(id); }

int svc_job_cancel(int64_t id, json_t **job, struct buf *err)
{
	int r = job_cancel(id, err);
	if (r == -EALREADY)
		r = -EBUSY;
	if (r == 0)
		*job = job_get(id);
	return r;
}
