/*
 * test_argv.c - the QEMU command line (src/qemu/argv.c) and the choice of
 * accelerator (src/qemu/accel.c).
 *
 * Golden files: every tests/data/argv/NAME.json is a VM definition; its
 * command line, one argv element per line, must equal NAME.args exactly.
 * Run with CORRAL_REGENERATE_GOLDEN=1 to rewrite the .args files after an
 * intended change, then review the diff like code.  A few cases change the
 * fixed launch parameters (see `overrides`) or must fail.  Every successful
 * case is also checked for invariants QEMU itself would enforce (unique ids
 * and node names, drives that exist, one root port per slot, ...), so a
 * regenerated golden file cannot silently bless a broken command line.
 *
 * Data is found through $CORRAL_TEST_DATA or TEST_DATA_DIR.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/vmdef.h"
#include "qemu/accel.h"
#include "qemu/argv.h"
#include "qemu/cpumodel.h"
#include "qemu/reslimits.h"
#include "golden.h"
#include "util/buf.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/strutil.h"
#include "util/common.h"

#define BINARY "qemu-system-x86_64"
#define RUN_BASE "/run/corral"
#define STORAGE "/var/lib/corral/storage"

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

/* Cases that do not use the fixed launch parameters, or must fail. */
static const struct {
	const char *name;
	const char *run_base;  /* run dir is RUN_BASE/<uuid> unless set */
	const char *storage;   /* disk paths are STORAGE/<volume>.qcow2 unless set */
	const char *error;     /* qemu_build_argv must fail with this in the message */
} overrides[] = {
	{ "comma-paths", "/run/corral,state", "/srv/corral,storage", NULL },
	{ "ide-too-many", NULL, NULL, "IDE" },
	{ "cloudinit-ide-too-many", NULL, NULL, "cloud-init seed" },
};

struct launch_ctx {
	struct vm_def *def;
	struct qemu_launch l;
	char *run_dir;
	char *paths[VM_MAX_DISKS];
	char *boot_kernel, *boot_initrd;
	char *cidata;
	char *uefi_code, *uefi_vars;
};

static void launch_release(struct launch_ctx *c)
{
	for (int i = 0; i < VM_MAX_DISKS; i++)
		free(c->paths[i]);
	free(c->run_dir);
	free(c->boot_kernel);
	free(c->boot_initrd);
	free(c->cidata);
	free(c->uefi_code);
	free(c->uefi_vars);
	vmdef_free(c->def);
}

static void launch_init(struct launch_ctx *c, struct vm_def *d, const char *run_base, const char *storage)
{
	memset(c, 0, sizeof(*c));
	c->def = d;
	c->run_dir = xasprintf("%s/%s", run_base ? run_base : RUN_BASE, d->uuid);
	c->l.def = d;
	c->l.binary = BINARY;
	c->l.run_dir = c->run_dir;
	c->l.accel = d->accel == ACCEL_KVM ? ACCEL_KVM : ACCEL_TCG;
	for (int i = 0; i < d->ndisks; i++) {
		c->paths[i] = xasprintf("%s/%s.qcow2", storage ? storage : STORAGE, d->disks[i].volume);
		c->l.disk_path[i] = c->paths[i];
		c->l.disk_format[i] = "qcow2";
	}
	if (d->boot_mode == BOOT_DISK_KERNEL || d->boot_mode == BOOT_KERNEL) {
		/* What rt_start copies into the run dir: out of the first disk
		 * (src/image/bootdisk.h), or the files the definition names. */
		c->boot_kernel = xasprintf("%s/boot/vmlinuz", c->run_dir);
		c->l.boot_kernel = c->boot_kernel;
		if (d->boot_mode == BOOT_DISK_KERNEL || d->initrd) {
			c->boot_initrd = xasprintf("%s/boot/initrd", c->run_dir);
			c->l.boot_initrd = c->boot_initrd;
		}
	}
	if (d->boot_mode == BOOT_DISK_KERNEL)
		c->l.boot_cmdline = "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=UUID=0b9f2a4c-57c1-4a2b-9d4e-1f2a3b4c5d6e ro console=ttyS0 quiet";
	if (d->cdrom) {
		/* rt_start opens the medium and hands it over as an fd. */
		c->l.cdrom_fd = QEMU_CDROM_FD;
		c->l.cdrom_fdset = QEMU_CDROM_FDSET;
	}
	/* rt_start builds the cloud-init seed in the run dir (qemu/cidata.h). */
	if (d->cloudinit) {
		c->cidata = xasprintf("%s/cidata.iso", c->run_dir);
		c->l.cidata_path = c->cidata;
	}
	if (d->firmware == FIRMWARE_UEFI) {
		/* rt_start: OVMF's code as installed, the vars copied into the state dir. */
		char *tmpl = NULL;
		qemu_uefi_files(QEMU_OVMF_DIR, d->secure_boot, &c->uefi_code, &tmpl);
		free(tmpl);
		c->uefi_vars = xasprintf("/var/lib/corral/nvram/%s.fd", d->uuid);
		c->l.uefi_code = c->uefi_code;
		c->l.uefi_vars = c->uefi_vars;
	}
	/* rt_start opens a tap per network NIC and hands it over as fd 4, 5, ... */
	for (int i = 0; i < d->nnics; i++)
		if (d->nics[i].mode == NIC_NETWORK)
			c->l.tap_fd[i] = QEMU_TAP_FD + i;
}

static struct vm_def *load_def(const char *path)
{
	json_error_t je;
	struct buf err = BUF_INIT;
	__do_json json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		fail_msg("%s: %s (line %d)", path, je.text, je.line);
	struct vm_def *d = vmdef_from_json(j, &err);
	if (!d)
		fail_msg("%s: %s", path, err.s);
	buf_release(&err);
	return d;
}

static struct vm_def *def_from(const char *text)
{
	struct buf err = BUF_INIT;
	__do_json json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	struct vm_def *d = vmdef_from_json(j, &err);
	if (!d)
		fail_msg("bad test definition: %s", err.s);
	buf_release(&err);
	return d;
}

static char *argv_lines(const struct cmd *c)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < c->argc; i++) {
		buf_adds(&b, c->argv[i]);
		buf_addch(&b, '\n');
	}
	return buf_detach(&b);
}

/* Value following option `opt` (the n-th occurrence), or NULL. */
static const char *opt_value(const struct cmd *c, const char *opt, int n)
{
	for (size_t i = 1; i + 1 < c->argc; i++)
		if (strcmp(c->argv[i], opt) == 0 && n-- == 0)
			return c->argv[i + 1];
	return NULL;
}

static bool has_arg(const struct cmd *c, const char *arg)
{
	for (size_t i = 0; i < c->argc; i++)
		if (strcmp(c->argv[i], arg) == 0)
			return true;
	return false;
}

/* A QemuOpts "key=value" out of an option string, with ",," unescaped (caller frees). */
static char *qemuopts_get(const char *opts, const char *key)
{
	size_t klen = strlen(key);
	const char *p = opts;
	while (*p) {
		const char *start = p;
		struct buf v = BUF_INIT;
		/* read one element up to an unescaped comma */
		while (*p) {
			if (*p == ',') {
				if (p[1] == ',') {
					buf_addch(&v, ',');
					p += 2;
					continue;
				}
				break;
			}
			buf_addch(&v, *p++);
		}
		if (*p == ',')
			p++;
		if (strncmp(v.s, key, klen) == 0 && v.s[klen] == '=') {
			char *r = xstrdup(v.s + klen + 1);
			buf_release(&v);
			return r;
		}
		buf_release(&v);
		(void)start;
	}
	return NULL;
}

/*
 * Invariants of a command line, whatever the golden file says: what QEMU
 * would refuse (duplicate ids, missing drives, two devices on one port),
 * and what the header promises (node and device names, one root port per
 * slot plus the hot-plug spares, the CD-ROM drive always on ide.2).
 */
static void check_invariants(const struct launch_ctx *lc, const struct cmd *c)
{
	const struct vm_def *d = lc->def;
	int nports = d->ndisks + d->hotplug_ports;
	__do_json json_t *ids = json_object();   /* device / object / netdev / chardev ids */
	__do_json json_t *nodes = json_object(); /* blockdev node names */
	__do_json json_t *addrs = json_object(); /* pcie.0 slot.function of root ports */
	__do_json json_t *buses = json_object(); /* buses taken by a device (rpN, ide.N) */
	__do_json json_t *boots = json_object();
	int rports = 0, cdroms = 0;

	assert_string_equal(c->argv[0], BINARY);
	assert_null(c->argv[c->argc]);
	for (size_t i = 0; i < c->argc; i++)
		if (str_has_control(c->argv[i]))
			fail_msg("argv[%zu] holds a control character", i);

	/* plumbing the runtime relies on: a direct child (no -daemonize, whose
	 * fork the sandbox would kill), sandboxed, its uuid in the command line */
	assert_false(has_arg(c, "-daemonize"));
	assert_null(opt_value(c, "-pidfile", 0));
	assert_string_equal(opt_value(c, "-sandbox", 0),
			    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	assert_true(has_arg(c, "-no-shutdown"));
	assert_true(has_arg(c, "-nodefaults"));
	assert_string_equal(opt_value(c, "-uuid", 0), d->uuid);
	{
		/* no screen: SeaBIOS writes to the serial console */
		__do_free char *m = xasprintf("%s%s%s", d->machine ? d->machine : "q35", d->secure_boot ? ",smm=on" : "",
					      d->vnc ? "" : ",graphics=off");
		assert_string_equal(opt_value(c, "-machine", 0), m);
	}
	/* UEFI: OVMF's code read-only, then the VM's own vars, as the two pflash units */
	if (d->firmware == FIRMWARE_UEFI) {
		__do_free char *code = xasprintf("if=pflash,unit=0,format=raw,readonly=on,file=%s", lc->l.uefi_code);
		__do_free char *vars = xasprintf("if=pflash,unit=1,format=raw,file=%s", lc->l.uefi_vars);
		assert_string_equal(opt_value(c, "-drive", 0), code);
		assert_string_equal(opt_value(c, "-drive", 1), vars);
	} else {
		assert_null(opt_value(c, "-drive", 0));
	}
	/* disk-kernel: a reset ends QEMU's run so corrald re-reads the boot configuration */
	assert_int_equal(has_arg(c, "reboot=shutdown"), d->boot_mode == BOOT_DISK_KERNEL);
	if (lc->l.accel == ACCEL_KVM) {
		assert_string_equal(opt_value(c, "-accel", 0), "kvm");
	} else {
		__do_free char *tcg = xasprintf("tcg,tb-size=%u", qemu_tcg_tb_size(d->memory_mib));
		assert_string_equal(opt_value(c, "-accel", 0), tcg);
	}
	assert_string_equal(opt_value(c, "-cpu", 0), d->cpu ? d->cpu : lc->l.accel == ACCEL_KVM ? "host" : "max");
	char num[32];
	snprintf(num, sizeof(num), "%d", d->cpus);
	assert_string_equal(opt_value(c, "-smp", 0), num);
	snprintf(num, sizeof(num), "%lld", (long long)d->memory_mib);
	assert_string_equal(opt_value(c, "-m", 0), num);

	/* the QMP and serial sockets are where the runtime looks, whatever the run dir holds */
	const char *ch;
	int nchardev = 0;
	for (int n = 0; (ch = opt_value(c, "-chardev", n)); n++, nchardev++) {
		__do_free char *id = qemuopts_get(ch, "id");
		__do_free char *path = qemuopts_get(ch, "path");
		assert_non_null(id);
		assert_non_null(path);
		__do_free char *want = xasprintf("%s/%s", lc->run_dir,
						 strcmp(id, "qmp") == 0    ? "qmp.sock"
						 : strcmp(id, "qga0") == 0 ? QEMU_AGENT_SOCKET
									   : "serial.sock");
		assert_string_equal(path, want);
		if (strcmp(id, "serial0") == 0) {
			__do_free char *log = qemuopts_get(ch, "logfile");
			__do_free char *wantlog = xasprintf("%s/console.log", lc->run_dir);
			assert_non_null(log);
			assert_string_equal(log, wantlog);
		}
		json_object_set_new(ids, id, json_true());
	}
	assert_int_equal(nchardev, d->agent ? 3 : 2);

	/* display: vnc or nothing */
	assert_int_equal(opt_value(c, "-vnc", 0) != NULL, d->vnc);
	assert_int_equal(opt_value(c, "-display", 0) != NULL, !d->vnc);

	/* boot */
	if (d->boot_mode == BOOT_KERNEL) {
		assert_string_equal(opt_value(c, "-kernel", 0), lc->l.boot_kernel);
		if (d->cmdline)
			assert_string_equal(opt_value(c, "-append", 0), d->cmdline);
		assert_null(opt_value(c, "-boot", 0));
	} else if (d->boot_mode == BOOT_DISK_KERNEL) {
		assert_string_equal(opt_value(c, "-kernel", 0), lc->l.boot_kernel);
		assert_string_equal(opt_value(c, "-append", 0), lc->l.boot_cmdline);
		assert_null(opt_value(c, "-boot", 0));
	} else {
		assert_null(opt_value(c, "-kernel", 0));
		assert_string_equal(opt_value(c, "-boot", 0), "strict=on");
	}

	/* block nodes first, so devices can check their drive */
	const char *a;
	for (int n = 0; (a = opt_value(c, "-blockdev", n)); n++) {
		__do_json json_t *j = json_loads(a, 0, NULL);
		if (!j)
			fail_msg("-blockdev is not JSON: %s", a);
		const char *node = json_string_value(json_object_get(j, "node-name"));
		assert_non_null(node);
		if (json_object_get(nodes, node))
			fail_msg("node-name %s used twice", node);
		const char *file = json_string_value(json_object_get(j, "file"));
		if (file && !json_object_get(nodes, file))
			fail_msg("node %s sits on unknown node %s", node, file);
		json_object_set_new(nodes, node, json_true());
	}

	for (int n = 0; (a = opt_value(c, "-device", n)); n++) {
		if (a[0] != '{') {
			/* QemuOpts syntax: driver first */
			__do_free char *id = qemuopts_get(a, "id");
			assert_non_null(id);
			if (json_object_get(ids, id))
				fail_msg("id %s used twice", id);
			json_object_set_new(ids, id, json_true());
			if (strncmp(a, "pcie-root-port,", 15) == 0) {
				__do_free char *bus = qemuopts_get(a, "bus");
				__do_free char *addr = qemuopts_get(a, "addr");
				__do_free char *chassis = qemuopts_get(a, "chassis");
				__do_free char *port = qemuopts_get(a, "port");
				char want[16];
				snprintf(want, sizeof(want), "rp%d", rports);
				assert_string_equal(id, want);
				assert_string_equal(bus, "pcie.0");
				assert_non_null(addr);
				if (json_object_get(addrs, addr))
					fail_msg("two root ports at %s", addr);
				json_object_set_new(addrs, addr, json_true());
				/* chassis/port pairs must be unique for PCIe slots */
				__do_free char *cp = xasprintf("chassis %s port %s", chassis, port);
				if (json_object_get(addrs, cp))
					fail_msg("duplicate %s", cp);
				json_object_set_new(addrs, cp, json_true());
				/* function 0 of a slot holding several ports is multifunction */
				unsigned slot, fn;
				assert_int_equal(sscanf(addr, "0x%x.0x%x", &slot, &fn), 2);
				assert_true(slot >= 2 && slot < 0x1f);
				assert_true(fn < 8);
				if (fn == 0 && rports + 1 < nports)
					assert_non_null(strstr(a, "multifunction=on"));
				rports++;
			}
			continue;
		}
		__do_json json_t *j = json_loads(a, 0, NULL);
		if (!j)
			fail_msg("-device is not JSON: %s", a);
		const char *id = json_string_value(json_object_get(j, "id"));
		const char *bus = json_string_value(json_object_get(j, "bus"));
		const char *drive = json_string_value(json_object_get(j, "drive"));
		json_t *bi = json_object_get(j, "bootindex");
		assert_non_null(id);
		if (json_object_get(ids, id))
			fail_msg("id %s used twice", id);
		json_object_set_new(ids, id, json_true());
		if (drive && !json_object_get(nodes, drive))
			fail_msg("device %s uses unknown drive %s", id, drive);
		if (bus && strcmp(bus, "scsi0.0") != 0) {
			if (json_object_get(buses, bus))
				fail_msg("two devices on %s", bus);
			json_object_set_new(buses, bus, json_true());
			if (bus[0] == 'r') {
				int rp = atoi(bus + 2);
				assert_true(rp < nports);
			}
		}
		if (bus && strcmp(bus, "scsi0.0") == 0)
			assert_true(json_object_get(ids, "scsi0") != NULL);
		if (bi) {
			char k[32];
			snprintf(k, sizeof(k), "%lld", (long long)json_integer_value(bi));
			if (json_object_get(boots, k))
				fail_msg("bootindex %s used twice", k);
			json_object_set_new(boots, k, json_true());
			assert_int_equal(d->boot_mode, BOOT_FIRMWARE);
		}
		if (strcmp(id, "cdrom0") == 0) {
			cdroms++;
			assert_string_equal(json_string_value(json_object_get(j, "driver")), "ide-cd");
			assert_string_equal(bus, "ide.2");
			assert_int_equal(drive != NULL, d->cdrom != NULL);
		}
	}
	/* the medium is the fd set the runtime fills, never the admin's path */
	if (d->cdrom) {
		__do_free char *addfd = xasprintf("fd=%d,set=%d,opaque=cdrom0", QEMU_CDROM_FD, QEMU_CDROM_FDSET);
		assert_string_equal(opt_value(c, "-add-fd", 0), addfd);
		assert_null(opt_value(c, "-add-fd", 1));
	} else {
		assert_null(opt_value(c, "-add-fd", 0));
	}
	assert_int_equal(rports, nports);
	assert_int_equal(cdroms, 1);

	/* each disk slot i: nodes disk<i>-file, disk<i>, device disk<i> */
	for (int i = 0; i < d->ndisks; i++) {
		char k[32];
		snprintf(k, sizeof(k), "disk%d", i);
		assert_non_null(json_object_get(nodes, k));
		assert_non_null(json_object_get(ids, k));
		snprintf(k, sizeof(k), "disk%d-file", i);
		assert_non_null(json_object_get(nodes, k));
		if (d->disks[i].bus == DISK_BUS_VIRTIO) {
			snprintf(k, sizeof(k), "rp%d", i);
			assert_non_null(json_object_get(buses, k));
		}
	}
	assert_int_equal(json_object_get(ids, "net0-dev") != NULL, d->nnics > 0);
	assert_int_equal(json_object_get(ids, "rng0-dev") != NULL, d->rng);
	/* -nodefaults: nothing may rely on QEMU's default NIC, VGA or serial */
	/* every NIC i: netdev net<i>, device net<i>-dev with its MAC */
	for (int i = 0; i < d->nnics; i++) {
		const char *nd = opt_value(c, "-netdev", i);
		assert_non_null(nd);
		__do_free char *mac = NULL;
		char id[32];
		snprintf(id, sizeof(id), "net%d-dev", i);
		for (int n = 0; (a = opt_value(c, "-device", n)); n++) {
			__do_free char *devid = qemuopts_get(a, "id");
			if (devid && strcmp(devid, id) == 0)
				mac = qemuopts_get(a, "mac");
		}
		assert_non_null(mac);
		assert_string_equal(mac, d->nics[i].mac);
	}
}

static int golden_case(const char *dir, const char *name)
{
	const char *run_base = NULL, *storage = NULL, *error = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(overrides); i++) {
		if (strcmp(overrides[i].name, name) == 0) {
			run_base = overrides[i].run_base;
			storage = overrides[i].storage;
			error = overrides[i].error;
		}
	}
	__do_free char *jpath = xasprintf("%s/%s.json", dir, name);
	__do_free char *apath = xasprintf("%s/%s.args", dir, name);
	struct launch_ctx lc;
	struct cmd c = CMD_INIT;
	struct buf err = BUF_INIT;
	char *got = NULL;
	int failed = 0;

	launch_init(&lc, load_def(jpath), run_base, storage);
	int r = qemu_build_argv(&lc.l, &c, &err);
	if (error) {
		if (r == 0) {
			print_error("%s: expected failure (%s), got a command line\n", name, error);
			failed = 1;
		} else if (!strstr(err.s, error)) {
			print_error("%s: error \"%s\" does not mention \"%s\"\n", name, err.s, error);
			failed = 1;
		}
		if (fs_exists(apath)) {
			print_error("%s: failing case has a stale %s\n", name, apath);
			failed = 1;
		}
		goto out;
	}
	if (r != 0) {
		print_error("%s: qemu_build_argv failed: %s\n", name, err.s);
		failed = 1;
		goto out;
	}
	check_invariants(&lc, &c);

	got = argv_lines(&c);
	{
		__do_free char *file = xasprintf("%s.args", name);
		failed = golden_compare("argv", file, got);
	}
out:
	free(got);
	cmd_release(&c);
	buf_release(&err);
	launch_release(&lc);
	return failed;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_golden(void **state)
{
	(void)state;
	__do_free char *dir = xasprintf("%s/argv", golden_data_dir());
	DIR *dh = opendir(dir);
	struct dirent *e;
	char *names[256];
	size_t n = 0;
	int failed = 0;

	if (!dh)
		fail_msg("cannot open %s", dir);
	while ((e = readdir(dh))) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0 && n < ARRAY_SIZE(names))
			names[n++] = strndup(e->d_name, len - 5);
		/* an expectation without a definition is a leftover */
		if (len > 5 && strcmp(e->d_name + len - 5, ".args") == 0) {
			__do_free char *j = xasprintf("%s/%.*s.json", dir, (int)(len - 5), e->d_name);
			if (!fs_exists(j)) {
				print_error("%s/%s has no .json\n", dir, e->d_name);
				failed++;
			}
		}
	}
	closedir(dh);
	qsort(names, n, sizeof(names[0]), cmp_str);
	/* the cases the suite is about must be there */
	static const char *const required[] = { "minimal",    "kernel-boot", "vnc-display",   "vnc-auto",
						"mixed-bus",  "cdrom-first", "no-nic-no-rng", "kvm",
						"comma-paths", "ide-too-many" };
	for (size_t i = 0; i < ARRAY_SIZE(required); i++)
		if (!bsearch(&required[i], names, n, sizeof(names[0]), cmp_str))
			fail_msg("golden case %s.json is missing from %s", required[i], dir);

	for (size_t i = 0; i < n; i++) {
		failed += golden_case(dir, names[i]);
		free(names[i]);
	}
	if (failed)
		fail_msg("%d golden case(s) failed", failed);
}

/* ---- details users depend on, spelled out ---- */

static void build(const char *def_json, const char *run_base, const char *storage, struct launch_ctx *lc,
		  struct cmd *c)
{
	struct buf err = BUF_INIT;
	launch_init(lc, def_from(def_json), run_base, storage);
	if (qemu_build_argv(&lc->l, c, &err) != 0)
		fail_msg("qemu_build_argv: %s", err.s);
	buf_release(&err);
}

static void test_comma_escaping(void **state)
{
	(void)state;
	struct launch_ctx lc;
	struct cmd c = CMD_INIT;
	build("{\"name\":\"c\",\"uuid\":\"00000000-0000-4000-8000-000000000001\",\"cdrom\":\"/iso,dir/x,y.iso\","
	      "\"disks\":[{\"volume\":\"v\"}]}",
	      "/run/a,b", "/st,or", &lc, &c);

	/* QemuOpts strings double the comma ... */
	const char *qmp = opt_value(&c, "-chardev", 0);
	assert_contains(qmp, "path=/run/a,,b/00000000-0000-4000-8000-000000000001/qmp.sock,");
	const char *serial = opt_value(&c, "-chardev", 1);
	assert_contains(serial, "logfile=/run/a,,b/00000000-0000-4000-8000-000000000001/console.log");
	/* ... JSON keeps it single; the ISO is an fd set, its path is not on the command line */
	bool saw_disk = false, saw_iso = false;
	const char *a;
	for (int n = 0; (a = opt_value(&c, "-blockdev", n)); n++) {
		__do_json json_t *j = json_loads(a, 0, NULL);
		const char *fn = json_string_value(json_object_get(j, "filename"));
		if (fn && strcmp(fn, "/st,or/v.qcow2") == 0)
			saw_disk = true;
		if (fn && strcmp(fn, "/dev/fdset/1") == 0)
			saw_iso = true;
		assert_true(!fn || !strstr(fn, "x,y.iso"));
	}
	assert_true(saw_disk);
	assert_true(saw_iso);
	cmd_release(&c);
	launch_release(&lc);
}

/* A migration's destination: paused, and its state arrives by migrate-incoming (qemu/migrate.h). */
static void test_incoming(void **state)
{
	(void)state;
	static const char def[] = "{\"name\":\"m\",\"uuid\":\"00000000-0000-4000-8000-000000000002\","
				  "\"disks\":[{\"volume\":\"v\"}]}";
	struct launch_ctx lc;
	struct cmd c = CMD_INIT;

	build(def, "/run", "/st", &lc, &c);
	assert_false(has_arg(&c, "-incoming"));
	assert_false(has_arg(&c, "-S"));
	cmd_release(&c);
	launch_release(&lc);

	struct buf err = BUF_INIT;
	launch_init(&lc, def_from(def), "/run", "/st");
	lc.l.incoming = true;
	c = (struct cmd)CMD_INIT;
	assert_int_equal(qemu_build_argv(&lc.l, &c, &err), 0);
	assert_true(has_arg(&c, "-S"));
	assert_string_equal(opt_value(&c, "-incoming", 0), "defer");
	check_invariants(&lc, &c);
	cmd_release(&c);
	launch_release(&lc);
	buf_release(&err);
}

static void test_boot_order(void **state)
{
	(void)state;
	struct launch_ctx lc;
	struct cmd c = CMD_INIT;
	const char *a;

	/* default order: the first disk boots first, then the CD-ROM */
	build("{\"name\":\"b\",\"disks\":[{\"volume\":\"v0\"},{\"volume\":\"v1\",\"bus\":\"scsi\"}],"
	      "\"cdrom\":\"/x.iso\"}",
	      NULL, NULL, &lc, &c);
	int disk0 = -1, disk1 = -1, cd = -1;
	for (int n = 0; (a = opt_value(&c, "-device", n)); n++) {
		if (a[0] != '{')
			continue;
		__do_json json_t *j = json_loads(a, 0, NULL);
		const char *id = json_string_value(json_object_get(j, "id"));
		json_t *bi = json_object_get(j, "bootindex");
		int v = bi ? (int)json_integer_value(bi) : 0;
		if (strcmp(id, "disk0") == 0)
			disk0 = v;
		else if (strcmp(id, "disk1") == 0)
			disk1 = v;
		else if (strcmp(id, "cdrom0") == 0)
			cd = v;
	}
	assert_true(disk0 > 0);
	assert_true(cd > disk0);
	assert_int_equal(disk1, 0); /* only the first disk is a boot disk */
	cmd_release(&c);
	launch_release(&lc);

	/* kernel boot: no firmware boot order at all */
	build("{\"name\":\"k\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/k\"},\"disks\":[{\"volume\":\"v0\"}],"
	      "\"cdrom\":\"/x.iso\"}",
	      NULL, NULL, &lc, &c);
	for (int n = 0; (a = opt_value(&c, "-device", n)); n++)
		assert_null(strstr(a, "bootindex"));
	assert_null(opt_value(&c, "-boot", 0));
	assert_null(opt_value(&c, "-initrd", 0));
	assert_null(opt_value(&c, "-append", 0));
	cmd_release(&c);
	launch_release(&lc);
}

/* The TCG translation cache: a quarter of guest RAM within 128..512 MiB
 * (QEMU 7.2's own default is 1 GiB for every guest). */
static void test_tcg_tb_size(void **state)
{
	(void)state;
	assert_int_equal(qemu_tcg_tb_size(64), 128);
	assert_int_equal(qemu_tcg_tb_size(256), 128);
	assert_int_equal(qemu_tcg_tb_size(1024), 256);
	assert_int_equal(qemu_tcg_tb_size(2048), 512);
	assert_int_equal(qemu_tcg_tb_size(65536), 512);
}

static void test_ide_ports(void **state)
{
	(void)state;
	struct launch_ctx lc;
	struct cmd c = CMD_INIT;
	build("{\"name\":\"i\",\"disks\":[{\"volume\":\"a\",\"bus\":\"ide\"},{\"volume\":\"b\",\"bus\":\"virtio\"},"
	      "{\"volume\":\"c\",\"bus\":\"ide\"},{\"volume\":\"d\",\"bus\":\"ide\"},{\"volume\":\"e\",\"bus\":\"ide\"},"
	      "{\"volume\":\"f\",\"bus\":\"ide\"}]}",
	      NULL, NULL, &lc, &c);
	/* IDE disks fill ide.0, ide.1, ide.3, ide.4, ide.5 in order; ide.2 is the CD-ROM */
	static const char *const want[][2] = { { "disk0", "ide.0" }, { "disk2", "ide.1" }, { "disk3", "ide.3" },
					       { "disk4", "ide.4" }, { "disk5", "ide.5" }, { "cdrom0", "ide.2" } };
	const char *a;
	int found = 0;
	for (int n = 0; (a = opt_value(&c, "-device", n)); n++) {
		if (a[0] != '{')
			continue;
		__do_json json_t *j = json_loads(a, 0, NULL);
		const char *id = json_string_value(json_object_get(j, "id"));
		for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
			if (strcmp(id, want[i][0]) == 0) {
				assert_string_equal(json_string_value(json_object_get(j, "bus")), want[i][1]);
				found++;
			}
		}
	}
	assert_int_equal(found, 6);
	cmd_release(&c);
	launch_release(&lc);

	/* the sixth IDE disk has nowhere to go */
	struct buf err = BUF_INIT;
	launch_init(&lc, def_from("{\"name\":\"i\",\"disks\":[{\"volume\":\"a\",\"bus\":\"ide\"},"
				  "{\"volume\":\"b\",\"bus\":\"ide\"},{\"volume\":\"c\",\"bus\":\"ide\"},"
				  "{\"volume\":\"d\",\"bus\":\"ide\"},{\"volume\":\"e\",\"bus\":\"ide\"},"
				  "{\"volume\":\"f\",\"bus\":\"virtio\"},{\"volume\":\"g\",\"bus\":\"ide\"}]}"),
		    NULL, NULL);
	assert_int_equal(qemu_build_argv(&lc.l, &c, &err), -1);
	assert_contains(err.s, "IDE");
	assert_contains(err.s, "5");
	cmd_release(&c);
	launch_release(&lc);
	buf_release(&err);
}

/* Limits in QEMU's and the cgroup's terms (qemu/reslimits.h). */
static void test_reslimits(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	__do_json json_t *j = json_loads("{\"name\":\"l\",\"memory_mib\":1024,\"limits\":{\"cpu_weight\":300,"
					 "\"cpu_limit\":1.5,\"cpuset\":\"1,0\"}}", 0, NULL);
	struct vm_def *d = vmdef_from_json(j, &err);
	assert_non_null(d);
	struct cgroup_limits l;
	qemu_limits_cgroup(d, ACCEL_TCG, &l);
	assert_int_equal(l.cpu_weight, 300);
	assert_int_equal(l.cpu_quota_us, 150000);
	assert_int_equal(l.cpu_period_us, 100000);
	assert_string_equal(l.cpuset, "0-1");
	/* default memory limit: RAM + 128 + RAM/32 + the TCG cache (256 for 1 GiB) */
	assert_int_equal(l.memory_max, (uint64_t)(1024 + 128 + 32 + 256) << 20);
	qemu_limits_cgroup(d, ACCEL_KVM, &l);
	assert_int_equal(l.memory_max, (uint64_t)(1024 + 128 + 32) << 20);
	d->limits.memory_limit_mib = 0;
	assert_int_equal(qemu_limits_memory_mib(d, ACCEL_TCG), 0);
	vmdef_free(d);

	struct vm_disk_io io = { .iops = 100, .iops_max = 300, .bps_rd = 1 << 20, .burst_s = 5 };
	struct {
		json_t *got;
		const char *want;
	} c[] = {
		{ qemu_io_throttle_args("disk2", DISK_BUS_VIRTIO, &io),
		  "{\"id\":\"/machine/peripheral/disk2/virtio-backend\",\"bps\":0,\"bps_rd\":1048576,\"bps_wr\":0,"
		  "\"iops\":100,\"iops_rd\":0,\"iops_wr\":0,\"iops_max\":300,\"iops_max_length\":5}" },
		{ qemu_io_throttle_args("disk1", DISK_BUS_SCSI, &(struct vm_disk_io){ 0 }),
		  "{\"id\":\"disk1\",\"bps\":0,\"bps_rd\":0,\"bps_wr\":0,\"iops\":0,\"iops_rd\":0,\"iops_wr\":0}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		__do_json json_t *want = json_loads(c[i].want, 0, NULL);
		if (!json_equal(c[i].got, want)) {
			__do_free char *g = json_to_string(c[i].got);
			fail_msg("case %zu: got %s", i, g);
		}
		json_decref(c[i].got);
	}
	buf_release(&err);
}

static void test_json_helpers(void **state)
{
	(void)state;
	struct {
		json_t *got;
		const char *want;
	} c[] = {
		{ qemu_blockdev_file(3, "/p,q/v.qcow2", 0),
		  "{\"driver\":\"file\",\"filename\":\"/p,q/v.qcow2\",\"node-name\":\"disk3-file\",\"read-only\":false}" },
		{ qemu_blockdev_file(0, "/x.iso", 1),
		  "{\"driver\":\"file\",\"filename\":\"/x.iso\",\"node-name\":\"disk0-file\",\"read-only\":true}" },
		{ qemu_blockdev_format(3, "qcow2", 0),
		  "{\"driver\":\"qcow2\",\"file\":\"disk3-file\",\"node-name\":\"disk3\",\"read-only\":false}" },
		{ qemu_disk_device(2, DISK_BUS_VIRTIO, 0, 0),
		  "{\"driver\":\"virtio-blk-pci\",\"id\":\"disk2\",\"drive\":\"disk2\",\"bus\":\"rp2\"}" },
		{ qemu_disk_device(2, DISK_BUS_VIRTIO, 0, 1),
		  "{\"driver\":\"virtio-blk-pci\",\"id\":\"disk2\",\"drive\":\"disk2\",\"bus\":\"rp2\",\"bootindex\":1}" },
		{ qemu_disk_device(5, DISK_BUS_SCSI, 0, 0),
		  "{\"driver\":\"scsi-hd\",\"id\":\"disk5\",\"drive\":\"disk5\",\"bus\":\"scsi0.0\"}" },
		{ qemu_disk_device(1, DISK_BUS_IDE, 4, 2),
		  "{\"driver\":\"ide-hd\",\"id\":\"disk1\",\"drive\":\"disk1\",\"bus\":\"ide.4\",\"bootindex\":2}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		__do_json json_t *want = json_loads(c[i].want, 0, NULL);
		assert_non_null(c[i].got);
		if (!json_equal(c[i].got, want)) {
			__do_free char *s = json_to_string(c[i].got);
			fail_msg("#%zu: got %s, want %s", i, s, c[i].want);
		}
		json_decref(c[i].got);
	}
	__do_free char *p = qemu_run_path("/run/corral/u", "qmp.sock");
	assert_string_equal(p, "/run/corral/u/qmp.sock");
}

/* ---- accel ---- */

struct fake_host {
	char root[64];
	char *dev;
};

static void fake_host_init(struct fake_host *h, const char *const *modules, bool dev_openable)
{
	snprintf(h->root, sizeof(h->root), "/tmp/corral-test-sysfs-XXXXXX");
	assert_non_null(mkdtemp(h->root));
	for (; modules && *modules; modules++) {
		__do_free char *p = xasprintf("%s/module/%s", h->root, *modules);
		assert_int_equal(fs_mkdir_p(p, 0755), 0);
	}
	h->dev = xasprintf("%s/kvm", h->root);
	if (dev_openable) {
		int fd = open(h->dev, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
}

static void fake_host_release(struct fake_host *h)
{
	__do_free char *rm = xasprintf("rm -rf '%s'", h->root);
	assert_int_equal(system(rm), 0);
	free(h->dev);
}

static void probe(const char *const *modules, bool dev_openable, struct accel_probe *p)
{
	struct fake_host h;
	fake_host_init(&h, modules, dev_openable);
	accel_probe_host(p, h.root, h.dev);
	fake_host_release(&h);
}

static void expect_resolve(const struct accel_probe *p, enum accel_mode want, int rc, enum accel_mode out_want)
{
	struct buf err = BUF_INIT;
	enum accel_mode out = (enum accel_mode)-1;
	int r = accel_resolve(p, want, &out, &err);
	assert_int_equal(r, rc);
	if (rc == 0) {
		assert_int_equal(out, out_want);
		assert_int_equal(err.len, 0);
	} else {
		/* the user is told why */
		assert_contains(err.s, "kvm");
		assert_contains(err.s, p->reason);
	}
	buf_release(&err);
}

static void test_accel_intel(void **state)
{
	(void)state;
	static const char *const mods[] = { "kvm", "kvm_intel", NULL };
	struct accel_probe p;
	probe(mods, true, &p);
	assert_true(p.kvm_usable);
	assert_contains(p.reason, "kvm_intel");
	expect_resolve(&p, ACCEL_AUTO, 0, ACCEL_KVM);
	expect_resolve(&p, ACCEL_KVM, 0, ACCEL_KVM);
	expect_resolve(&p, ACCEL_TCG, 0, ACCEL_TCG);
}

static void test_accel_amd(void **state)
{
	(void)state;
	static const char *const mods[] = { "kvm", "kvm_amd", NULL };
	struct accel_probe p;
	probe(mods, true, &p);
	assert_true(p.kvm_usable);
	assert_contains(p.reason, "kvm_amd");
	expect_resolve(&p, ACCEL_AUTO, 0, ACCEL_KVM);
}

static void test_accel_pvm(void **state)
{
	(void)state;
	/* /dev/kvm exists and opens, but it is kvm_pvm: TCG is faster */
	static const char *const mods[] = { "kvm", "kvm_pvm", NULL };
	struct accel_probe p;
	probe(mods, true, &p);
	assert_false(p.kvm_usable);
	assert_contains(p.reason, "kvm_pvm");
	assert_contains(p.reason, "tcg");
	expect_resolve(&p, ACCEL_AUTO, 0, ACCEL_TCG);
	expect_resolve(&p, ACCEL_TCG, 0, ACCEL_TCG);
	expect_resolve(&p, ACCEL_KVM, -1, ACCEL_TCG);
}

static void test_accel_nothing(void **state)
{
	(void)state;
	struct accel_probe p;
	probe(NULL, false, &p);
	assert_false(p.kvm_usable);
	assert_true(strlen(p.reason) > 0);
	assert_contains(p.reason, "tcg");
	expect_resolve(&p, ACCEL_AUTO, 0, ACCEL_TCG);
	expect_resolve(&p, ACCEL_KVM, -1, ACCEL_TCG);

	/* a /dev/kvm without any hardware module is not enough either */
	probe(NULL, true, &p);
	assert_false(p.kvm_usable);
	expect_resolve(&p, ACCEL_AUTO, 0, ACCEL_TCG);
}

static void test_accel_dev_unusable(void **state)
{
	(void)state;
	static const char *const mods[] = { "kvm", "kvm_amd", NULL };
	struct accel_probe p;
	probe(mods, false, &p);
	assert_false(p.kvm_usable);
	assert_contains(p.reason, "kvm_amd");
	assert_contains(p.reason, "tcg");
	expect_resolve(&p, ACCEL_AUTO, 0, ACCEL_TCG);
	expect_resolve(&p, ACCEL_KVM, -1, ACCEL_TCG);
	expect_resolve(&p, ACCEL_TCG, 0, ACCEL_TCG);
}

/* `-cpu help` of QEMU 7.2 (shortened): the models a "cpu" is checked against. */
static const char cpu_help[] =
	"Available CPUs:\n"
	"x86 486                   (alias configured by machine type)\n"
	"x86 Broadwell-noTSX       (alias of Broadwell-v2)\n"
	"x86 Nehalem               (alias configured by machine type)\n"
	"x86 Nehalem-v1            Intel Core i7 9xx (Nehalem Class Core i7)\n"
	"x86 Skylake-Server-v4     Intel Xeon Processor (Skylake, IBRS, no TSX)\n"
	"x86 host                  KVM processor with all supported host features\n"
	"x86 max                   Enables all features supported by the accelerator in the current host\n"
	"x86 qemu64                QEMU Virtual CPU version 2.5+\n"
	"\n"
	"Recognized CPUID flags:\n"
	"  3dnow 3dnowext 3dnowprefetch abm ace2 ace2-en acpi adx aes amd-no-ssb\n";

static void test_cpu_models(void **state)
{
	(void)state;
	struct qemu_cpus c;
	struct buf err = BUF_INIT;

	assert_int_equal(qemu_cpus_parse(cpu_help, &c), 0);
	assert_int_equal(c.n, 8);
	assert_true(qemu_cpus_has(&c, "Nehalem-v1"));
	assert_true(qemu_cpus_has(&c, "Broadwell-noTSX"));
	assert_false(qemu_cpus_has(&c, "3dnow")); /* a flag, not a model */
	assert_false(qemu_cpus_has(&c, "nehalem-v1"));
	assert_false(qemu_cpus_has(&c, "Nehalem-v"));

	/* typos get the likely model; nonsense gets none */
	assert_string_equal(qemu_cpus_suggest(&c, "Skylake-Sever-v4"), "Skylake-Server-v4");
	assert_string_equal(qemu_cpus_suggest(&c, "nehalem-v1"), "Nehalem-v1");
	assert_string_equal(qemu_cpus_suggest(&c, "qemu46"), "qemu64");
	assert_null(qemu_cpus_suggest(&c, "Pentium4000"));
	assert_null(qemu_cpus_suggest(&c, "zz"));

	/* the check users meet at create */
	assert_int_equal(qemu_cpu_check(&c, NULL, false, &err), 0);
	assert_int_equal(qemu_cpu_check(&c, "max", false, &err), 0);
	assert_int_equal(qemu_cpu_check(&c, "Nehalem-v1", false, &err), 0);
	assert_int_equal(qemu_cpu_check(&c, "host", true, &err), 0);
	assert_int_equal(err.len, 0);
	assert_int_equal(qemu_cpu_check(&c, "host", false, &err), -EINVAL);
	assert_contains(err.s, "cpu host needs KVM");
	buf_reset(&err);
	assert_int_equal(qemu_cpu_check(&c, "Skylake-Sever-v4", false, &err), -EINVAL);
	assert_contains(err.s, "knows no CPU model Skylake-Sever-v4; did you mean Skylake-Server-v4?");
	buf_reset(&err);
	assert_int_equal(qemu_cpu_check(&c, "Pentium4000", false, &err), -EINVAL);
	assert_contains(err.s, "knows no CPU model Pentium4000 (corral host info lists cpu_models)");
	buf_release(&err);

	/* portable between hosts: named models only */
	assert_true(qemu_cpu_portable("Nehalem-v1"));
	assert_false(qemu_cpu_portable("host"));
	assert_false(qemu_cpu_portable("max"));
	assert_false(qemu_cpu_portable(NULL));
	qemu_cpus_release(&c);

	/* a QEMU without the list: nothing is refused but host under TCG */
	struct qemu_cpus none = { 0 };
	assert_int_equal(qemu_cpus_parse("Available CPUs:\n", &none), -EINVAL);
	assert_int_equal(qemu_cpu_check(&none, "Anything-v9", false, &err), 0);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_comma_escaping),
		cmocka_unit_test(test_boot_order),
		cmocka_unit_test(test_incoming),
		cmocka_unit_test(test_ide_ports),
		cmocka_unit_test(test_tcg_tb_size),
		cmocka_unit_test(test_json_helpers),
		cmocka_unit_test(test_reslimits),
		cmocka_unit_test(test_accel_intel),
		cmocka_unit_test(test_accel_amd),
		cmocka_unit_test(test_accel_pvm),
		cmocka_unit_test(test_accel_nothing),
		cmocka_unit_test(test_accel_dev_unusable),
		cmocka_unit_test(test_cpu_models),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
