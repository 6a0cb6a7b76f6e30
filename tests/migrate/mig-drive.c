/*
 * mig-drive.c - migrates a guest between two running QEMUs through the
 * primitives of src/qemu/migrate.h, in the order service/migrate.c uses
 * (tests/migrate/mig_seq.c): the floor under corral's own migration (bare
 * QEMU driven directly), and the way the QMP transcripts test_migrate
 * replays were recorded (through tests/data/qmp/record-proxy.py).  Tests
 * only; never installed.  The QEMUs it was recorded with (guest kit from
 * build/guest; for shared storage give both the same image):
 *   qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 128 -nodefaults -display none
 *     -no-shutdown -kernel vmlinuz -initrd initrd.img -serial file:NAME.serial
 *     -qmp unix:NAME.sock,server=on,wait=off
 *     -blockdev driver=file,filename=IMG.qcow2,node-name=disk0-file
 *     -blockdev driver=qcow2,file=disk0-file,node-name=disk0
 *     -device virtio-blk-pci,drive=disk0,id=disk0
 * and for the destination also `-S -incoming defer` and an empty image of
 * the same size.
 *
 *   mig-drive --src SOCK --dst SOCK --host ADDR --port N [--nbd-port N
 *             --disks N] [--src-dir DIR --dst-dir DIR] [--bandwidth B/s]
 *             [--downtime MS] [--cancel-after POLLS] [--poll-ms MS]
 *
 * With --src-dir/--dst-dir a fresh key is written to both (keys.psk) and
 * the streams are encrypted; the key files are removed at the end.  Prints
 * one JSON object (the source's last query-migrate, "ok", "error", and
 * "pause_ms": from the source's STOP event to the destination's RESUME, by
 * QEMU's own event timestamps, the time the guest really stood still) and exits
 * 0 when the guest runs on the destination, 1 when it runs on the source.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mig_seq.h"
#include "qemu/qmp.h"
#include "util/cleanup.h"
#include "util/common.h"

/* The QEMU timestamps of the source's last STOP and the destination's last RESUME (reader threads write,
 * main reads after qmp_close has joined them). */
static int64_t stop_ms, resume_ms;

static void on_src_event(void *opaque, const char *event, json_t *data, int64_t ts_ms)
{
	(void)opaque;
	(void)data;
	if (!strcmp(event, "STOP"))
		stop_ms = ts_ms;
}

static void on_dst_event(void *opaque, const char *event, json_t *data, int64_t ts_ms)
{
	(void)opaque;
	(void)data;
	if (!strcmp(event, "RESUME"))
		resume_ms = ts_ms;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "src", required_argument, NULL, 's' },	  { "dst", required_argument, NULL, 'd' },
		{ "host", required_argument, NULL, 'h' },	  { "port", required_argument, NULL, 'p' },
		{ "nbd-port", required_argument, NULL, 'n' },	  { "disks", required_argument, NULL, 'k' },
		{ "src-dir", required_argument, NULL, 'S' },	  { "dst-dir", required_argument, NULL, 'D' },
		{ "bandwidth", required_argument, NULL, 'b' },	  { "downtime", required_argument, NULL, 't' },
		{ "cancel-after", required_argument, NULL, 'c' }, { "poll-ms", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct mig_seq s = { .cancel_after_polls = -1, .poll_ms = 100, .log = stderr };
	const char *src = NULL, *dst = NULL;
	__do_buf struct buf err = BUF_INIT;
	char psk[MIG_PSK_HEX_LEN + 1];
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': src = optarg; break;
		case 'd': dst = optarg; break;
		case 'h': s.host = optarg; break;
		case 'p': s.port = atoi(optarg); break;
		case 'n': s.nbd_port = atoi(optarg); break;
		case 'k': s.ndisks = atoi(optarg); break;
		case 'S': s.src_dir = optarg; break;
		case 'D': s.dst_dir = optarg; break;
		case 'b': s.params.max_bandwidth = strtoull(optarg, NULL, 10); break;
		case 't': s.params.downtime_ms = atoll(optarg); break;
		case 'c': s.cancel_after_polls = atoi(optarg); break;
		case 'P': s.poll_ms = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!src || !dst || !s.host || !s.port || (!s.src_dir != !s.dst_dir)) {
		fprintf(stderr, "usage: mig-drive --src SOCK --dst SOCK --host ADDR --port N [...]\n");
		return 2;
	}
	s.params.tls = s.src_dir != NULL;
	if (s.params.tls && (mig_psk_generate(psk, &err) < 0 || mig_psk_write(s.src_dir, psk, &err) < 0 ||
			     mig_psk_write(s.dst_dir, psk, &err) < 0)) {
		fprintf(stderr, "mig-drive: %s\n", err.s);
		return 2;
	}
	if (!(s.src = qmp_connect(src, 5000, on_src_event, NULL, NULL, &err)) ||
	    !(s.dst = qmp_connect(dst, 5000, on_dst_event, NULL, NULL, &err))) {
		fprintf(stderr, "mig-drive: %s\n", err.s);
		r = -EIO;
	} else {
		r = mig_seq_run(&s, &err);
	}
	if (s.params.tls) {
		mig_psk_remove(s.src_dir);
		mig_psk_remove(s.dst_dir);
	}
	qmp_close(s.src); /* joins the readers: stop_ms and resume_ms are final */
	qmp_close(s.dst);
	__do_json json_t *out = mig_progress_json(&s.last);
	json_object_set_new(out, "ok", json_boolean(r == 0));
	json_object_set_new(out, "error", json_string(err.len ? err.s : ""));
	json_object_set_new(out, "polls", json_integer(s.polls));
	if (r == 0 && stop_ms > 0 && resume_ms >= stop_ms)
		json_object_set_new(out, "pause_ms", json_integer(resume_ms - stop_ms));
	__do_free char *text = json_dumps(out, JSON_COMPACT);
	printf("%s\n", text);
	return r == 0 ? 0 : 1;
}
