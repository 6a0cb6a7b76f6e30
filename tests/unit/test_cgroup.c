/*
 * test_cgroup.c - per-VM cgroups (src/cgroup): layout detection from
 * /proc/mounts texts (v2-only, v1, hybrid, none), then real groups on this
 * host's hierarchies, v1 and v2 separately, under a private parent
 * (corral-test-<pid>): a process started through the runner enters the
 * group from its pre-exec hook before exec, /proc/PID/cgroup shows it
 * there in every hierarchy, the group lists it and accounts for it, the
 * group cannot be removed while the process lives and is removed after.
 * Real-group tests skip (not fail) where the hierarchy is not mounted or
 * we are not root.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroup/cgroup.h"
#include "util/buf.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/proc.h"
#include "util/common.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

/* A v2 mount point whose cgroup.controllers is readable: the parser reads it. */
static const char *v2_mount(void)
{
	static const char *const cands[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
		__do_free char *p = xasprintf("%s/cgroup.controllers", cands[i]);
		if (fs_exists(p))
			return cands[i];
	}
	return NULL;
}

static void test_parse_layouts(void **state)
{
	(void)state;
	struct cgroup_host h;
	struct buf err = BUF_INIT;
	const char *v2 = v2_mount();

	/* v1 (this kind of host, without the cgroup2 line). */
	const char *v1 = "sysfs /sys sysfs rw 0 0\n"
			 "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n"
			 "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"
			 "cgroup /sys/fs/cgroup/cpuset cgroup rw,cpuset 0 0\n"
			 "cgroup /sys/fs/cgroup/devices cgroup rw,devices 0 0\n"
			 "cgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0\n"
			 "cgroup /sys/fs/cgroup/blkio cgroup rw,blkio 0 0\n"
			 "cgroup /sys/fs/cgroup/systemd cgroup rw,xattr,name=systemd 0 0\n";
	assert_int_equal(cgroup_host_parse(&h, v1, "corral", &err), 0);
	assert_int_equal(h.layout, CGROUP_V1);
	assert_int_equal(h.n, 6); /* cpu,cpuacct memory cpuset pids blkio name=systemd; not devices */
	assert_string_equal(h.h[0].mount, "/sys/fs/cgroup/cpu,cpuacct");
	assert_string_equal(h.h[0].controllers, "cpu,cpuacct");
	assert_string_equal(h.h[2].controllers, "cpuset");
	assert_string_equal(h.h[5].controllers, "name=systemd");
	assert_string_equal(h.parent, "corral");
	__do_free char *d1 = cgroup_host_describe(&h);
	assert_contains(d1, "v1: v1 /sys/fs/cgroup/cpu,cpuacct (cpu,cpuacct)");

	/* Nothing usable. */
	assert_int_equal(cgroup_host_parse(&h, "proc /proc proc rw 0 0\n", "corral", &err), -ENOENT);
	assert_int_equal(h.layout, CGROUP_NONE);
	assert_contains(err.s, "no cgroup hierarchy");

	if (!v2) {
		buf_release(&err);
		return;
	}
	/* v2-only (Debian 12, Fedora...) and hybrid: the cgroup2 mount must be
	 * real, its controllers are read from it. */
	__do_free char *v2only = xasprintf("cgroup2 %s cgroup2 rw,nosuid,nsdelegate 0 0\n", v2);
	assert_int_equal(cgroup_host_parse(&h, v2only, "corral", &err), 0);
	assert_int_equal(h.layout, CGROUP_V2);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.h[0].mount, v2);
	__do_free char *hybrid = xasprintf("%s%s", v1, v2only);
	assert_int_equal(cgroup_host_parse(&h, hybrid, "corral", &err), 0);
	assert_int_equal(h.layout, CGROUP_HYBRID);
	assert_int_equal(h.n, 7);
	buf_release(&err);
}

/* A cgroup v2 tree in a plain directory, as a v2-only host would have it. */
static void fake_file(const char *dir, const char *file, const char *text)
{
	__do_free char *p = xasprintf("%s/%s", dir, file);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *fake_read(const char *dir, const char *file)
{
	__do_free char *p = xasprintf("%s/%s", dir, file);
	struct buf b = BUF_INIT;
	assert_int_equal(fs_read_file(p, 4096, &b), 0);
	return buf_detach(&b);
}

static void test_v2_limits_fake(void **state)
{
	(void)state;
	char root[] = "/tmp/corral-test-cg2.XXXXXX";
	struct cgroup_host h;
	struct cgroup_vm g = CGROUP_VM_INIT;
	struct cgroup_limits got;
	struct cgroup_stats st;
	struct buf err = BUF_INIT;
	assert_non_null(mkdtemp(root));
	__do_free char *par = xasprintf("%s/corral", root);
	__do_free char *vm = xasprintf("%s/vm-x", par);
	assert_int_equal(mkdir(par, 0755), 0);
	assert_int_equal(mkdir(vm, 0755), 0);
	fake_file(root, "cgroup.controllers", "cpuset cpu io memory pids\n");
	fake_file(root, "cgroup.subtree_control", "");
	fake_file(par, "cgroup.subtree_control", "");
	static const char *const files[][2] = {
		{ "cgroup.procs", "" }, { "cpu.weight", "100\n" }, { "cpu.max", "max 100000\n" },
		{ "cpuset.cpus", "\n" }, { "cpuset.cpus.effective", "0-3\n" }, { "memory.max", "max\n" },
		{ "memory.current", "123456\n" }, { "cpu.stat", "usage_usec 42\nuser_usec 40\n" },
		{ "memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\n" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		fake_file(vm, files[i][0], files[i][1]);

	__do_free char *mounts = xasprintf("cgroup2 %s cgroup2 rw 0 0\n", root);
	assert_int_equal(cgroup_host_parse(&h, mounts, "corral", &err), 0);
	assert_int_equal(h.layout, CGROUP_V2);
	assert_int_equal(cgroup_vm_create(&h, "vm-x", &g, &err), 0);
	cgroup_vm_release(&g);
	__do_free char *sc = fake_read(root, "cgroup.subtree_control");
	assert_string_equal(sc, "+cpu +cpuset +io +memory +pids");

	struct cgroup_limits l = { .cpu_weight = 300, .cpu_quota_us = 150000, .cpuset = "1-2", .memory_max = 600 << 20 };
	assert_int_equal(cgroup_vm_set_limits(&h, "vm-x", &l, &err), 0);
	__do_free char *w = fake_read(vm, "cpu.weight");
	__do_free char *mx = fake_read(vm, "cpu.max");
	__do_free char *cs = fake_read(vm, "cpuset.cpus");
	__do_free char *mm = fake_read(vm, "memory.max");
	assert_string_equal(w, "300");
	assert_string_equal(mx, "150000 100000");
	assert_string_equal(cs, "1-2");
	assert_string_equal(mm, "629145600");
	assert_int_equal(cgroup_vm_get_limits(&h, "vm-x", &got, &err), 0);
	assert_int_equal(got.cpu_weight, 300);
	assert_int_equal(got.cpu_quota_us, 150000);
	assert_int_equal(got.cpu_period_us, 100000);
	assert_int_equal(got.memory_max, 600 << 20);
	assert_string_equal(got.cpuset, "0-3"); /* effective, as the (fake) kernel says */

	/* defaults undo every limit */
	struct cgroup_limits none = { 0 };
	assert_int_equal(cgroup_vm_set_limits(&h, "vm-x", &none, &err), 0);
	__do_free char *w2 = fake_read(vm, "cpu.weight");
	__do_free char *mx2 = fake_read(vm, "cpu.max");
	__do_free char *cs2 = fake_read(vm, "cpuset.cpus");
	__do_free char *mm2 = fake_read(vm, "memory.max");
	assert_string_equal(w2, "100");
	assert_string_equal(mx2, "max 100000");
	assert_string_equal(cs2, "\n");
	assert_string_equal(mm2, "max");
	assert_int_equal(cgroup_vm_get_limits(&h, "vm-x", &got, &err), 0);
	assert_int_equal(got.cpu_quota_us, 0);
	assert_int_equal(got.memory_max, 0);

	assert_int_equal(cgroup_vm_stats(&h, "vm-x", &st, &err), 0);
	assert_true(st.has_oom);
	assert_int_equal(st.oom_kills, 1);
	assert_int_equal(st.cpu_ns, 42000);
	assert_int_equal(st.memory_bytes, 123456);

	/* a host whose v2 lacks cpuset: a cpuset is refused and nothing is written */
	fake_file(root, "cgroup.controllers", "cpu memory\n");
	assert_int_equal(cgroup_host_parse(&h, mounts, "corral", &err), 0);
	fake_file(vm, "cpu.weight", "100\n");
	struct cgroup_limits pin = { .cpu_weight = 50, .cpuset = "1" };
	buf_reset(&err);
	assert_int_equal(cgroup_vm_set_limits(&h, "vm-x", &pin, &err), -ENOTSUP);
	assert_contains(err.s, "cpuset");
	__do_free char *w3 = fake_read(vm, "cpu.weight");
	assert_string_equal(w3, "100\n");

	struct cmd rm = CMD_INIT;
	cmd_add(&rm, "rm");
	cmd_add(&rm, "-rf");
	cmd_add(&rm, root);
	assert_int_equal(cmd_run(&rm, NULL, &err), 0);
	cmd_release(&rm);
	buf_release(&err);
}

/* The host's hierarchies of one backend only ("v1" or "v2"), under a private parent. */
static bool host_of(struct cgroup_host *h, const char *kind, char *parent, size_t size)
{
	struct buf err = BUF_INIT, mounts = BUF_INIT, only = BUF_INIT;
	bool ok = false;
	snprintf(parent, size, "corral-test-%d", (int)getpid());
	if (geteuid() != 0 || fs_read_file("/proc/mounts", 1 << 20, &mounts) < 0)
		goto out;
	/* Keep the lines of that kind: "cgroup" (v1) or "cgroup2". */
	const char *type = strcmp(kind, "v2") == 0 ? " cgroup2 " : " cgroup ";
	for (char *line = mounts.s, *eol; *line; line = eol + 1) {
		eol = strchr(line, '\n');
		if (!eol)
			break;
		*eol = '\0';
		if (strstr(line, type))
			buf_printf(&only, "%s\n", line);
	}
	ok = only.len && cgroup_host_parse(h, only.s, parent, &err) == 0 &&
	     h->layout == (strcmp(kind, "v2") == 0 ? CGROUP_V2 : CGROUP_V1);
out:
	buf_release(&err);
	buf_release(&mounts);
	buf_release(&only);
	return ok;
}

static int enter_hook(void *arg, const char **what)
{
	*what = "entering the cgroup";
	return cgroup_vm_enter(arg);
}

/* Every hierarchy line of /proc/PID/cgroup names the group. */
static void assert_in_group(pid_t pid, const struct cgroup_host *h, const char *group)
{
	char path[64];
	struct buf b = BUF_INIT;
	__do_free char *want = xasprintf(":/%s/%s\n", h->parent, group);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	assert_int_equal(fs_read_file(path, 1 << 16, &b), 0);
	/* v1 lines are "N:ctl,ctl:/path", the v2 line "0::/path". */
	int found = 0;
	for (char *line = b.s; line && *line;) {
		char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line + 1) : strlen(line);
		__do_free char *l = xasprintf("%.*s", (int)len, line);
		if (strstr(l, want))
			found++;
		line = eol ? eol + 1 : NULL;
	}
	if (found != h->n)
		fail_msg("pid %d is in %d of %d hierarchies' %s/%s:\n%s", (int)pid, found, h->n, h->parent, group, b.s);
	buf_release(&b);
}

static void exercise(const char *kind)
{
	struct cgroup_host h;
	struct cgroup_vm g = CGROUP_VM_INIT;
	struct cgroup_stats st;
	struct buf err = BUF_INIT;
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	char parent[64];
	pid_t *pids = NULL;
	size_t n = 0;

	if (!host_of(&h, kind, parent, sizeof(parent))) {
		skip();
		return;
	}
	assert_int_equal(cgroup_vm_create(&h, "vm-test", &g, &err), 0);
	assert_int_equal(g.n, h.n);
	/* Creating again is fine (a VM restarted after a crash). */
	struct cgroup_vm again = CGROUP_VM_INIT;
	assert_int_equal(cgroup_vm_create(&h, "vm-test", &again, &err), 0);
	cgroup_vm_release(&again);

	/* The child enters the group before exec (cmd_start returns after exec). */
	cmd_add(&c, "sleep");
	cmd_add(&c, "30");
	c.pre_exec = enter_hook;
	c.pre_exec_arg = &g;
	assert_int_equal(cmd_start(&c, &p, &err), 0);
	assert_in_group(p.pid, &h, "vm-test");
	/* Not in the test's own group any more: the group lists exactly it. */
	assert_int_equal(cgroup_vm_pids(&h, "vm-test", &pids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], p.pid);
	free(pids);
	assert_int_equal(cgroup_vm_stats(&h, "vm-test", &st, &err), 0);
	if (strcmp(kind, "v1") == 0) {
		/* This host's v1 has cpuacct and memory: both account for it. */
		assert_true(st.has_cpu);
		assert_true(st.has_memory);
		assert_true(st.memory_bytes > 0);
	} else {
		assert_true(st.has_cpu); /* cpu.stat exists without the cpu controller */
	}

	/* Limits, written and read back; then the defaults undo them. */
	struct cgroup_limits l = { .cpu_weight = 200, .cpu_quota_us = 50000, .cpuset = "0", .memory_max = 256 << 20 };
	struct cgroup_limits got;
	bool has_cpu = false, has_mem = false, has_cpuset = false;
	for (int i = 0; i < h.n; i++) {
		has_cpu |= strcmp(h.h[i].controllers, "cpu") == 0 || strncmp(h.h[i].controllers, "cpu,", 4) == 0;
		has_mem |= strstr(h.h[i].controllers, "memory") != NULL;
		has_cpuset |= strstr(h.h[i].controllers, "cpuset") != NULL;
	}
	if (has_cpu && has_mem && has_cpuset) {
		assert_int_equal(cgroup_vm_set_limits(&h, "vm-test", &l, &err), 0);
		assert_int_equal(cgroup_vm_get_limits(&h, "vm-test", &got, &err), 0);
		assert_int_equal(got.cpu_weight, 200);
		assert_int_equal(got.cpu_quota_us, 50000);
		assert_int_equal(got.cpu_period_us, CGROUP_CPU_PERIOD_US);
		assert_string_equal(got.cpuset, "0");
		assert_int_equal(got.memory_max, 256 << 20);
		/* A limit below what is in use: the kernel reclaims (sleep uses little) */
		struct cgroup_limits none = { 0 };
		assert_int_equal(cgroup_vm_set_limits(&h, "vm-test", &none, &err), 0);
		assert_int_equal(cgroup_vm_get_limits(&h, "vm-test", &got, &err), 0);
		assert_int_equal(got.cpu_weight, 100);
		assert_int_equal(got.cpu_quota_us, 0);
		assert_int_equal(got.memory_max, 0);
		assert_true(got.cpuset[0] != '\0'); /* the parent's CPUs again */
		assert_true(st.has_oom || strcmp(kind, "v2") == 0);
		assert_int_equal(st.oom_kills, 0);
	}

	/* Busy while the process lives. */
	assert_int_equal(cgroup_vm_remove(&h, "vm-test", &err), -EBUSY);
	assert_contains(err.s, "still in it");
	assert_int_equal(proc_signal(&p, SIGKILL), 0);
	assert_int_equal(proc_wait(&p), 128 + SIGKILL);
	proc_release(&p);
	assert_int_equal(cgroup_vm_pids(&h, "vm-test", &pids, &n, &err), 0);
	assert_int_equal(n, 0);
	free(pids);
	assert_int_equal(cgroup_vm_remove(&h, "vm-test", &err), 0);
	assert_int_equal(cgroup_vm_remove(&h, "vm-test", &err), 0); /* gone is fine */
	assert_int_equal(cgroup_vm_stats(&h, "vm-test", &st, &err), -ENOENT);
	for (int i = 0; i < h.n; i++) {
		__do_free char *dir = xasprintf("%s/%s/vm-test", h.h[i].mount, parent);
		assert_false(fs_exists(dir));
	}

	cgroup_vm_release(&g);
	cmd_release(&c);
	buf_release(&err);
}

/* After a failed assertion too: kill what is left in the test groups, remove them. */
static int groups_teardown(void **state)
{
	(void)state;
	const char *kinds[] = { "v1", "v2" };
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct cgroup_host h;
		char parent[64];
		struct buf err = BUF_INIT;
		pid_t *pids = NULL;
		size_t n = 0;
		if (!host_of(&h, kinds[k], parent, sizeof(parent)))
			continue;
		if (cgroup_vm_pids(&h, "vm-test", &pids, &n, &err) == 0)
			for (size_t i = 0; i < n; i++)
				kill(pids[i], SIGKILL);
		free(pids);
		for (int tries = 0; tries < 50 && cgroup_vm_remove(&h, "vm-test", &err) == -EBUSY; tries++)
			usleep(20000);
		buf_release(&err);
		for (int i = 0; i < h.n; i++) {
			__do_free char *pdir = xasprintf("%s/%s", h.h[i].mount, parent);
			rmdir(pdir);
		}
	}
	return 0;
}

static void test_v1_groups(void **state)
{
	(void)state;
	exercise("v1");
}

static void test_v2_groups(void **state)
{
	(void)state;
	exercise("v2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_layouts),
		cmocka_unit_test(test_v2_limits_fake),
		cmocka_unit_test_teardown(test_v1_groups, groups_teardown),
		cmocka_unit_test_teardown(test_v2_groups, groups_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
