/*
 * dnsmasq.h - one dnsmasq per nat/isolated network: DHCP and DNS on the
 * network's bridge.
 *
 * Files, all in the network's directory (<state_dir>/networks/<name>/, so
 * leases survive corrald and host restarts):
 *   dnsmasq.conf   the whole configuration (dnsmasq_conf(), golden-tested)
 *   hosts          --dhcp-hostsfile: one line per guest NIC on the network,
 *                  "MAC,NAME" or "MAC,IP,NAME" for a reservation; re-read on
 *                  SIGHUP (dnsmasq_reload) when VMs or reservations change
 *   leases         dnsmasq's lease database (--dhcp-leasefile)
 *   dnsmasq.pid    the running dnsmasq's identity (util/proc.h), written by
 *                  corrald: dnsmasq itself writes no pid file
 *   dnsmasq.log    its stderr (log-facility=-)
 * dnsmasq runs in the foreground as corrald's child in its own session, so
 * it outlives corrald like QEMU does; a restarted corrald finds it again by
 * the identity in dnsmasq.pid and leaves it running.
 *
 * Names: every guest NIC's hosts line carries its VM's name, so guests
 * resolve each other (and "NAME.<network>") through dnsmasq, the
 * network's gateway address.
 *
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_NET_DNSMASQ_H
#define CORRAL_NET_DNSMASQ_H

#include <stdbool.h>
#include <stdint.h>

#include "net/netdef.h"
#include "util/buf.h"
#include "util/proc.h"

/* One NIC on the network, for the hosts file. */
struct dnsmasq_host {
	const char *mac;
	const char *name;   /* VM name */
	uint32_t ip;        /* reserved address, 0: dynamic */
};

/* The configuration file for network d whose files are in dir. */
void dnsmasq_conf(const struct net_def *d, const char *dir, struct buf *out);
/* The hosts file's text. */
void dnsmasq_hosts(const struct dnsmasq_host *h, size_t n, struct buf *out);
/* Write the hosts file (atomically); SIGHUP the running dnsmasq so it re-reads it. */
int dnsmasq_hosts_write(const char *dir, const struct dnsmasq_host *h, size_t n, struct buf *err);

/* Is the network's dnsmasq running?  *id (may be NULL) gets its identity. */
bool dnsmasq_running(const char *dir, struct proc_identity *id);
/* Write the configuration and start dnsmasq (once it has bound its sockets). */
int dnsmasq_start(const struct net_def *d, const char *dir, struct buf *err);
/* Ask a running dnsmasq to re-read the hosts file. */
void dnsmasq_reload(const char *dir);
/* End it (TERM, KILL after 3 s); 0 also when none ran. */
int dnsmasq_stop(const char *dir);

/* One lease from the lease file. */
struct dnsmasq_lease {
	long long expiry;   /* unix seconds, 0: infinite */
	char mac[18];
	char ip[16];
	char hostname[64];  /* "" when the client sent none ("*") */
};
/*
 * Parse a lease file's text (lines "EXPIRY MAC IP HOSTNAME CLIENTID");
 * IPv4 leases only, malformed lines skipped.  Returns the number parsed
 * into out (at most max).
 */
size_t dnsmasq_leases_parse(const char *text, struct dnsmasq_lease *out, size_t max);
/* Read <dir>/leases; *out malloc'd (caller frees), *n leases. */
int dnsmasq_leases_read(const char *dir, struct dnsmasq_lease **out, size_t *n);

#endif
