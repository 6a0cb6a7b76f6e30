/*
 * dnsmasq.c - a network's DHCP and DNS server (see dnsmasq.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnsmasq.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define DNSMASQ_LEASE_TIME "1h"
#define DNSMASQ_START_WAIT_MS 500

void dnsmasq_conf(const struct net_def *d, const char *dir, struct buf *o)
{
	char gw[16], first[16], last[16], mask[16];
	uint32_t lo, hi;
	subnet_dhcp_range(&d->subnet, &lo, &hi);
	buf_printf(o, "# corral network %s: generated at every start, do not edit\n", d->name);
	/* only the bridge, only its address: never the host's other interfaces */
	buf_printf(o, "interface=%s\n", d->bridge);
	buf_adds(o, "except-interface=lo\nbind-dynamic\n");
	buf_printf(o, "listen-address=%s\n", ipv4_fmt(subnet_gateway(&d->subnet), gw));
	buf_adds(o, "strict-order\ndomain-needed\nbogus-priv\nno-hosts\nexpand-hosts\n");
	buf_printf(o, "domain=%s\nlocal=/%s/\n", d->name, d->name);
	if (d->type == NET_ISOLATED)
		buf_adds(o, "no-resolv\n"); /* no way out: answer only the network's own names */
	buf_printf(o, "dhcp-range=%s,%s,%s,%s\n", ipv4_fmt(lo, first), ipv4_fmt(hi, last),
		   ipv4_fmt(subnet_mask(&d->subnet), mask), DNSMASQ_LEASE_TIME);
	if (d->type == NET_ISOLATED)
		buf_adds(o, "dhcp-option=option:router\n"); /* no default route through the host */
	if (d->has_subnet6) {
		/* IPv6: router adverts for SLAAC, stateless DHCPv6 for DNS (no IPv6 leases) */
		char gw6[SUBNET6_STRLEN], prefix[SUBNET6_STRLEN];
		buf_printf(o, "listen-address=%s\n", subnet6_gateway_fmt(&d->subnet6, gw6));
		buf_adds(o, "enable-ra\n");
		buf_printf(o, "dhcp-range=%s,ra-stateless,%d,%s\n", subnet6_prefix_fmt(&d->subnet6, prefix),
			   SUBNET6_PREFIX, DNSMASQ_LEASE_TIME);
		if (d->type == NET_ISOLATED)
			buf_printf(o, "ra-param=%s,60,0\n", d->bridge); /* router lifetime 0: not a default router */
	}
	/* dhcp-ignore-clid: a lease per MAC, not per client ID (a guest sending random
	 * client IDs would otherwise get one lease each and empty the pool) */
	buf_adds(o, "dhcp-authoritative\ndhcp-no-override\ndhcp-ignore-clid\ndhcp-lease-max=4096\n");
	buf_printf(o, "dhcp-leasefile=%s/leases\n", dir);
	buf_printf(o, "dhcp-hostsfile=%s/hosts\n", dir);
	buf_adds(o, "pid-file=\nuser=root\nlog-facility=-\nlog-dhcp\n");
}

void dnsmasq_hosts(const struct dnsmasq_host *h, size_t n, struct buf *o)
{
	for (size_t i = 0; i < n; i++) {
		char ip[16];
		if (h[i].ip)
			buf_printf(o, "%s,%s,%s\n", h[i].mac, ipv4_fmt(h[i].ip, ip), h[i].name);
		else
			buf_printf(o, "%s,%s\n", h[i].mac, h[i].name);
	}
}

int dnsmasq_hosts_write(const char *dir, const struct dnsmasq_host *h, size_t n, struct buf *err)
{
	struct buf text __do_buf = BUF_INIT;
	__do_free char *path = xasprintf("%s/hosts", dir);
	dnsmasq_hosts(h, n, &text);
	int r = fs_write_file_atomic(path, text.s, text.len, 0644);
	if (r < 0) {
		buf_printf(err, "cannot write %s: %s", path, strerror(-r));
		return r;
	}
	dnsmasq_reload(dir);
	return 0;
}

bool dnsmasq_running(const char *dir, struct proc_identity *id)
{
	__do_free char *pidfile = xasprintf("%s/dnsmasq.pid", dir);
	struct proc_identity me;
	if (proc_identity_load(pidfile, &me) < 0 || !proc_identity_alive(&me))
		return false;
	if (id)
		*id = me;
	return true;
}

/* The last line dnsmasq wrote to its log since `from`, for an error message. */
static char *log_tail(const char *log, size_t from)
{
	struct buf b __do_buf = BUF_INIT;
	if (fs_read_file(log, 1 << 20, &b) < 0 || b.len <= from)
		return xstrdup("no message");
	char *s = b.s + from;
	while (b.len && (b.s[b.len - 1] == '\n'))
		b.s[--b.len] = '\0';
	char *nl = strrchr(s, '\n');
	return xstrdup(nl ? nl + 1 : s);
}

int dnsmasq_start(const struct net_def *d, const char *dir, struct buf *err)
{
	struct buf conf __do_buf = BUF_INIT, why __do_buf = BUF_INIT, old __do_buf = BUF_INIT;
	__do_free char *confpath = xasprintf("%s/dnsmasq.conf", dir);
	__do_free char *hosts = xasprintf("%s/hosts", dir);
	__do_free char *log = xasprintf("%s/dnsmasq.log", dir);
	__do_free char *pidfile = xasprintf("%s/dnsmasq.pid", dir);
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	struct proc_identity id;
	int r;

	dnsmasq_conf(d, dir, &conf);
	if ((r = fs_write_file_atomic(confpath, conf.s, conf.len, 0600)) < 0) {
		buf_printf(err, "cannot write %s: %s", confpath, strerror(-r));
		return r;
	}
	if (fs_exists(hosts) != 1 && (r = fs_write_file_atomic(hosts, "", 0, 0644)) < 0) {
		buf_printf(err, "cannot write %s: %s", hosts, strerror(-r));
		return r;
	}
	size_t from = fs_read_file(log, 1 << 20, &old) == 0 ? old.len : 0;
	cmd_add(&c, "dnsmasq");
	cmd_addf(&c, "--conf-file=%s", confpath);
	cmd_add(&c, "--keep-in-foreground");
	cmd_set_io(&c, 1, CMD_IO_FILE, log);
	cmd_set_io(&c, 2, CMD_IO_FILE, log);
	c.new_session = true;
	r = cmd_start(&c, &p, &why);
	cmd_release(&c);
	if (r < 0) {
		buf_printf(err, "cannot start dnsmasq for network %s: %s", d->name, why.s);
		return r;
	}
	if (proc_identity_get(p.pid, &id) == 0)
		r = proc_identity_save(pidfile, &id);
	if (r < 0)
		log_warn("network %s: cannot record dnsmasq's pid in %s: %s", d->name, pidfile, strerror(-r));
	/* dnsmasq fails early (address in use, bad option) or not at all. */
	if (proc_wait_timeout(&p, DNSMASQ_START_WAIT_MS) != -ETIMEDOUT) {
		__do_free char *last = log_tail(log, from);
		buf_printf(err, "dnsmasq for network %s exited at once: %s", d->name, last);
		unlink(pidfile);
		proc_release(&p);
		return -EIO;
	}
	proc_release(&p); /* left to the reaper; found again by its identity */
	return 0;
}

void dnsmasq_reload(const char *dir)
{
	struct proc_identity id;
	if (dnsmasq_running(dir, &id))
		proc_identity_signal(&id, SIGHUP);
}

int dnsmasq_stop(const char *dir)
{
	__do_free char *pidfile = xasprintf("%s/dnsmasq.pid", dir);
	struct proc_identity id;
	if (dnsmasq_running(dir, &id)) {
		proc_identity_signal(&id, SIGTERM);
		for (int i = 0; i < 300 && proc_identity_alive(&id); i++) {
			if (i == 30)
				proc_identity_signal(&id, SIGKILL);
			usleep(10000);
		}
	}
	unlink(pidfile);
	return 0;
}

size_t dnsmasq_leases_parse(const char *text, struct dnsmasq_lease *out, size_t max)
{
	size_t n = 0;
	const char *line = text;
	while (line && *line && n < max) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char tmp[512], exp[24], mac[64], ip[64], host[64];
		if (len < sizeof(tmp)) {
			memcpy(tmp, line, len);
			tmp[len] = '\0';
			/* widths bound every field; a longer one fails the checks below */
			if (sscanf(tmp, "%23s %63s %63s %63s", exp, mac, ip, host) == 4 && strlen(mac) == 17 &&
			    strlen(ip) < 16 && !strchr(ip, ':')) {
				char *e;
				long long x = strtoll(exp, &e, 10);
				uint32_t a;
				if (!*e && x >= 0 && ipv4_parse(ip, &a) == 0) {
					struct dnsmasq_lease *l = &out[n++];
					l->expiry = x;
					memcpy(l->mac, mac, sizeof(l->mac)); /* 17 chars + NUL, checked above */
					ipv4_fmt(a, l->ip);
					memcpy(l->hostname, strcmp(host, "*") ? host : "", strcmp(host, "*") ? strlen(host) + 1 : 1);
					for (char *c = l->hostname; *c; c++)
						if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
							*c = '?';
				}
			}
		}
		line = end ? end + 1 : NULL;
	}
	return n;
}

int dnsmasq_leases_read(const char *dir, struct dnsmasq_lease **out, size_t *n)
{
	struct buf text __do_buf = BUF_INIT;
	__do_free char *path = xasprintf("%s/leases", dir);
	*out = NULL;
	*n = 0;
	int r = fs_read_file(path, 4 << 20, &text);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	size_t max = 1;
	for (const char *c = text.s; *c; c++)
		max += *c == '\n';
	*out = xcalloc(max, sizeof(**out));
	*n = dnsmasq_leases_parse(text.s, *out, max);
	return 0;
}
