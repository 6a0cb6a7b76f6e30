/*
 * shape.c - a token bucket on a tap's egress (see shape.h).
 *
 * tbf needs a bucket at least one packet large and big enough for the
 * timer granularity: the burst is a tenth of a second's worth of bytes, at
 * least 64 KiB (so GSO frames of a virtio NIC pass); `latency 50ms` bounds the
 * queue.  Removing is `tc qdisc del dev PORT root`, whose "nothing to delete"
 * answers are taken as success so every call is idempotent.
 */
#include "net/shape.h"

#include <errno.h>
#include <string.h>

#include "net/hygiene.h"
#include "util/common.h"

int shape_port_cmd(const char *port, uint64_t rx_bytes_per_sec, struct cmd *c, struct buf *err)
{
	const char *why = hygiene_ifname_invalid(port);
	uint64_t burst;

	if (why) {
		if (err)
			buf_printf(err, "port \"%s\": %s.", port ? port : "", why);
		return -EINVAL;
	}
	if (rx_bytes_per_sec && (rx_bytes_per_sec < SHAPE_RATE_MIN || rx_bytes_per_sec > SHAPE_RATE_MAX)) {
		if (err)
			buf_printf(err, "port %s: a bandwidth limit is between 1000 bytes/s and 1 TiB/s.", port);
		return -ERANGE;
	}
	cmd_add(c, "tc");
	cmd_add(c, "qdisc");
	if (!rx_bytes_per_sec) {
		cmd_add(c, "del");
		cmd_add(c, "dev");
		cmd_add(c, port);
		cmd_add(c, "root");
		return 0;
	}
	burst = rx_bytes_per_sec / 10;
	if (burst < 65536)
		burst = 65536;
	cmd_add(c, "replace");
	cmd_add(c, "dev");
	cmd_add(c, port);
	cmd_add(c, "root");
	cmd_add(c, "tbf");
	cmd_add(c, "rate");
	cmd_addf(c, "%llubit", (unsigned long long)rx_bytes_per_sec * 8);
	cmd_add(c, "burst");
	cmd_addf(c, "%llu", (unsigned long long)burst);
	cmd_add(c, "latency");
	cmd_add(c, "50ms");
	return 0;
}

int shape_port_set(const char *port, uint64_t rx_bytes_per_sec, struct buf *err)
{
	struct cmd c = CMD_INIT;
	__do_buf struct buf terr = BUF_INIT;
	int r;

	if ((r = shape_port_cmd(port, rx_bytes_per_sec, &c, err)) < 0) {
		cmd_release(&c);
		return r;
	}
	r = cmd_run(&c, NULL, &terr);
	cmd_release(&c);
	if (r < 0) {
		if (err)
			buf_printf(err, "port %s: cannot run tc (package iproute2): %s.", port, strerror(-r));
		return r;
	}
	if (r != 0) {
		/* Nothing to remove is what we wanted. */
		if (!rx_bytes_per_sec && (strstr(terr.s, "Cannot delete qdisc with handle of zero") ||
					  strstr(terr.s, "No such file or directory") ||
					  strstr(terr.s, "Invalid handle")))
			return 0;
		if (err) {
			buf_printf(err, "port %s: tc could not %s the bandwidth limit (status %d): ", port,
				   rx_bytes_per_sec ? "set" : "remove", r);
			buf_add_printable(err, terr.s, terr.len > 300 ? 300 : terr.len);
		}
		return -EIO;
	}
	return 0;
}
