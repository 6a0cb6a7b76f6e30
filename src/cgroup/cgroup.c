/*
 * cgroup.c - see cgroup.h: finding the hierarchies in /proc/mounts, and the
 * cgroupfs operations every backend shares (mkdir, cgroup.procs, rmdir).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/cgroup_internal.h"
#include "util/fsutil.h"
#include "util/common.h"

/* v1 controllers (or named hierarchies) a VM group is made in. */
static const char *const v1_wanted[] = { "cpu", "cpuacct", "cpuset", "memory", "blkio", "pids", "name=systemd" };

bool cgroup_list_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ',' || p[-1] == ' ') && (p[n] == ',' || p[n] == ' ' || !p[n]))
			return true;
	return false;
}

int cgroup_read_u64(const char *dir, const char *file, const char *key, uint64_t *out)
{
	__do_free char *path = xasprintf("%s/%s", dir, file);
	struct buf b = BUF_INIT;
	int r = fs_read_file(path, 64 << 10, &b);
	const char *p = b.s;
	if (r == 0 && key) {
		size_t n = strlen(key);
		for (p = b.s; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
			if (strncmp(p, key, n) == 0 && p[n] == ' ')
				break;
		p = p ? p + strlen(key) + 1 : NULL;
	}
	if (r == 0) {
		char *end;
		errno = 0;
		unsigned long long v = p ? strtoull(p, &end, 10) : 0;
		if (!p || errno || end == p)
			r = -EINVAL;
		else
			*out = v;
	}
	buf_release(&b);
	return r;
}

int cgroup_write(const char *dir, const char *file, const char *value)
{
	__do_free char *path = xasprintf("%s/%s", dir, file);
	__do_close int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int cgroup_write_err(const char *dir, const char *file, const char *value, struct buf *err)
{
	int r = cgroup_write(dir, file, value);
	if (r < 0)
		buf_printf(err, "cannot set %s of %s to %s: %s", file, dir, *value == '\n' ? "(empty)" : value,
			   strerror(-r));
	return r;
}

int cgroup_read_line(const char *dir, const char *file, char *out, size_t size)
{
	__do_free char *path = xasprintf("%s/%s", dir, file);
	struct buf b = BUF_INIT;
	int r = fs_read_file(path, 64 << 10, &b);
	if (r == 0) {
		b.s[strcspn(b.s, "\n")] = '\0';
		snprintf(out, size, "%s", b.s);
	}
	buf_release(&b);
	return r;
}

const char *cgroup_layout_name(enum cgroup_layout l)
{
	switch (l) {
	case CGROUP_V1: return "v1";
	case CGROUP_V2: return "v2";
	case CGROUP_HYBRID: return "hybrid";
	default: return "none";
	}
}

static void add_hier(struct cgroup_host *host, const struct cgroup_ops *ops, const char *mount, const char *ctl)
{
	if (host->n >= CGROUP_MAX_HIER)
		return;
	struct cgroup_hier *h = &host->h[host->n++];
	h->ops = ops;
	snprintf(h->mount, sizeof(h->mount), "%s", mount);
	snprintf(h->controllers, sizeof(h->controllers), "%s", ctl);
}

int cgroup_host_parse(struct cgroup_host *host, const char *mounts, const char *parent, struct buf *err)
{
	bool v1 = false, v2 = false;
	memset(host, 0, sizeof(*host));
	snprintf(host->parent, sizeof(host->parent), "%s", parent);
	for (const char *line = mounts; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char dev[64], mnt[256], type[32], opts[512];
		__do_free char *l = xasprintf("%.*s", (int)len, line);
		line = eol ? eol + 1 : NULL;
		if (sscanf(l, "%63s %255s %31s %511s", dev, mnt, type, opts) != 4)
			continue;
		if (strcmp(type, "cgroup2") == 0) {
			struct buf ctl = BUF_INIT;
			__do_free char *cpath = xasprintf("%s/cgroup.controllers", mnt);
			if (v2 || fs_read_file(cpath, 4096, &ctl) < 0) {
				buf_release(&ctl);
				continue; /* only the first cgroup2 mount; one we cannot read is no use */
			}
			ctl.s[strcspn(ctl.s, "\n")] = '\0';
			add_hier(host, &cgroup_v2_ops, mnt, ctl.s);
			buf_release(&ctl);
			v2 = true;
		} else if (strcmp(type, "cgroup") == 0) {
			/* The options carry the controllers: "rw,relatime,cpu,cpuacct". */
			struct buf ctl = BUF_INIT;
			bool wanted = false, seen = false;
			for (int i = 0; i < host->n; i++)
				if (strcmp(host->h[i].mount, mnt) == 0)
					seen = true;
			for (size_t i = 0; i < ARRAY_SIZE(v1_wanted); i++) {
				if (!cgroup_list_has(opts, v1_wanted[i]))
					continue;
				if (ctl.len)
					buf_addch(&ctl, ',');
				buf_adds(&ctl, v1_wanted[i]);
				wanted = true;
			}
			if (wanted && !seen) {
				add_hier(host, &cgroup_v1_ops, mnt, ctl.s);
				v1 = true;
			}
			buf_release(&ctl);
		}
	}
	host->layout = v1 && v2 ? CGROUP_HYBRID : v1 ? CGROUP_V1 : v2 ? CGROUP_V2 : CGROUP_NONE;
	if (host->layout == CGROUP_NONE) {
		buf_adds(err, "no cgroup hierarchy is mounted (neither cgroup2 nor the v1 cpu/memory/pids controllers)");
		return -ENOENT;
	}
	return 0;
}

int cgroup_host_detect(struct cgroup_host *host, const char *parent, struct buf *err)
{
	struct buf m = BUF_INIT;
	int r = fs_read_file("/proc/mounts", 1 << 20, &m);
	if (r < 0) {
		buf_printf(err, "cannot read /proc/mounts: %s", strerror(-r));
		memset(host, 0, sizeof(*host));
	} else {
		r = cgroup_host_parse(host, m.s, parent, err);
	}
	buf_release(&m);
	return r;
}

char *cgroup_host_describe(const struct cgroup_host *host)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, cgroup_layout_name(host->layout));
	for (int i = 0; i < host->n; i++) {
		const struct cgroup_hier *h = &host->h[i];
		buf_printf(&b, "%s %s %s (%s)", i ? "," : ":", h->ops->name, h->mount,
			   *h->controllers ? h->controllers : "no controllers");
	}
	return buf_detach(&b);
}

int cgroup_host_controller_version(const struct cgroup_host *host, const char *controller)
{
	int v2 = 0;
	for (int i = 0; i < host->n; i++) {
		const struct cgroup_hier *h = &host->h[i];
		if (!cgroup_list_has(h->controllers, controller))
			continue;
		if (h->ops == &cgroup_v1_ops)
			return 1; /* a v1 mount carries it: that is where it works (hybrid hosts) */
		v2 = 2;
	}
	return v2;
}

static char *group_dir(const struct cgroup_hier *h, const char *parent, const char *name)
{
	return name ? xasprintf("%s/%s/%s", h->mount, parent, name) : xasprintf("%s/%s", h->mount, parent);
}

static int mkdir_once(const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int cgroup_vm_create(const struct cgroup_host *host, const char *name, struct cgroup_vm *out, struct buf *err)
{
	int r;
	out->n = 0;
	for (int i = 0; i < host->n; i++) {
		const struct cgroup_hier *h = &host->h[i];
		__do_free char *pdir = group_dir(h, host->parent, NULL);
		__do_free char *dir = group_dir(h, host->parent, name);
		__do_free char *procs = xasprintf("%s/cgroup.procs", dir);
		if ((r = mkdir_once(pdir)) < 0 || (r = mkdir_once(dir)) < 0) {
			buf_printf(err, "cannot create cgroup %s: %s", dir, strerror(-r));
			goto fail;
		}
		if ((r = h->ops->prepare(h, pdir, err)) < 0)
			goto fail;
		if (h->ops->init_group && (r = h->ops->init_group(h, dir, pdir, err)) < 0)
			goto fail;
		int fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			buf_printf(err, "cannot open %s: %s", procs, strerror(-r));
			goto fail;
		}
		out->procs[out->n++] = fd;
	}
	return 0;
fail:
	cgroup_vm_release(out);
	return r;
}

int cgroup_vm_enter(const struct cgroup_vm *g)
{
	/* "0" is the writer itself, in v1 and v2 alike. */
	for (int i = 0; i < g->n; i++)
		if (write(g->procs[i], "0", 1) != 1)
			return -errno;
	return 0;
}

void cgroup_vm_release(struct cgroup_vm *g)
{
	for (int i = 0; i < g->n; i++)
		if (g->procs[i] >= 0)
			close(g->procs[i]);
	g->n = 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return x < y ? -1 : x > y;
}

int cgroup_vm_pids(const struct cgroup_host *host, const char *name, pid_t **pids, size_t *n, struct buf *err)
{
	*pids = NULL;
	*n = 0;
	if (host->n == 0)
		return 0;
	__do_free char *dir = group_dir(&host->h[0], host->parent, name);
	__do_free char *path = xasprintf("%s/cgroup.procs", dir);
	struct buf b = BUF_INIT;
	int r = fs_read_file(path, 1 << 20, &b);
	if (r < 0) {
		buf_printf(err, "cannot read %s: %s", path, strerror(-r));
		buf_release(&b);
		return r;
	}
	size_t alloc = 0;
	for (char *p = b.s, *end; *p; p = end) {
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (*n == alloc) {
			alloc = alloc ? alloc * 2 : 8;
			*pids = xrealloc(*pids, alloc * sizeof(pid_t));
		}
		(*pids)[(*n)++] = (pid_t)v;
	}
	if (*n)
		qsort(*pids, *n, sizeof(pid_t), cmp_pid);
	buf_release(&b);
	return 0;
}

int cgroup_vm_remove(const struct cgroup_host *host, const char *name, struct buf *err)
{
	int ret = 0;
	for (int i = 0; i < host->n; i++) {
		__do_free char *dir = group_dir(&host->h[i], host->parent, name);
		if (rmdir(dir) < 0 && errno != ENOENT) {
			int e = errno;
			if (ret == 0)
				buf_printf(err, "cannot remove cgroup %s: %s", dir,
					   e == EBUSY ? "processes are still in it" : strerror(e));
			ret = -e;
		}
	}
	return ret;
}

int cgroup_vm_stats(const struct cgroup_host *host, const char *name, struct cgroup_stats *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < host->n; i++) {
		__do_free char *dir = group_dir(&host->h[i], host->parent, name);
		if (!fs_exists(dir)) {
			buf_printf(err, "no cgroup %s", dir);
			return -ENOENT;
		}
		host->h[i].ops->stats(&host->h[i], dir, out);
	}
	return 0;
}

int cgroup_vm_set_limits(const struct cgroup_host *host, const char *name, const struct cgroup_limits *l,
			 struct buf *err)
{
	unsigned did = 0, want = 0;
	int r;
	if (l->cpu_weight || l->cpu_quota_us)
		want |= CGROUP_DID_CPU;
	if (l->cpuset[0])
		want |= CGROUP_DID_CPUSET;
	if (l->memory_max)
		want |= CGROUP_DID_MEMORY;
	/* Before writing anything: a limit no hierarchy can carry changes nothing. */
	for (int i = 0; i < host->n; i++) {
		const struct cgroup_hier *h = &host->h[i];
		if (cgroup_list_has(h->controllers, "cpu"))
			did |= CGROUP_DID_CPU;
		if (cgroup_list_has(h->controllers, "cpuset"))
			did |= CGROUP_DID_CPUSET;
		if (cgroup_list_has(h->controllers, "memory"))
			did |= CGROUP_DID_MEMORY;
	}
	if (want & ~did) {
		unsigned miss = want & ~did;
		buf_printf(err, "this host's cgroups have no %s controller, so the VM's %s cannot be applied",
			   miss & CGROUP_DID_MEMORY ? "memory" : miss & CGROUP_DID_CPU ? "cpu" : "cpuset",
			   miss & CGROUP_DID_MEMORY ? "memory limit" : miss & CGROUP_DID_CPU ? "CPU weight or limit" : "cpuset");
		return -ENOTSUP;
	}
	did = 0;
	/* The memory hierarchy first: the kernel may refuse a limit below what is in use. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < host->n; i++) {
			const struct cgroup_hier *h = &host->h[i];
			if (cgroup_list_has(h->controllers, "memory") != (pass == 0))
				continue;
			__do_free char *pdir = group_dir(h, host->parent, NULL);
			__do_free char *dir = group_dir(h, host->parent, name);
			if (!fs_exists(dir)) {
				buf_printf(err, "no cgroup %s", dir);
				return -ENOENT;
			}
			if ((r = h->ops->set_limits(h, dir, pdir, l, &did, err)) < 0)
				return r;
		}
	}
	return 0;
}

int cgroup_vm_get_limits(const struct cgroup_host *host, const char *name, struct cgroup_limits *out,
			 struct buf *err)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < host->n; i++) {
		__do_free char *dir = group_dir(&host->h[i], host->parent, name);
		if (!fs_exists(dir)) {
			buf_printf(err, "no cgroup %s", dir);
			return -ENOENT;
		}
		host->h[i].ops->get_limits(&host->h[i], dir, out);
	}
	return 0;
}
