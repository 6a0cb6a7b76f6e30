/*
 * hygiene.c - guest traffic hygiene with nftables (see hygiene.h).
 *
 * Rendering is pure text (one nft transaction per change, golden-tested);
 * applying feeds that text to `nft -f` through the command runner, from a
 * memfd handed to nft as fd 3, so no rule ever appears on a command line or
 * in a file another process could change.  What is in the kernel is read
 * back with `nft -j list map` (the port -> chain map is the index of all
 * filtered ports), under a lock, so the transaction built from it is exact:
 * moving a port to another bridge, removing the last port (and the table
 * with it) or a whole bridge's ports are each one transaction.
 */
#include "net/hygiene.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/common.h"

#define T "bridge " HYGIENE_TABLE

static pthread_mutex_t hygiene_mutex = PTHREAD_MUTEX_INITIALIZER;

const char *hygiene_ifname_invalid(const char *name)
{
	if (!name || !*name)
		return "an interface name is required";
	if (strlen(name) > 15)
		return "an interface name has at most 15 characters";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "\".\" and \"..\" are not interface names";
	for (const char *c = name; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '.' || *c == '-'))
			return "only letters, digits, '.', '-' and '_' can be filtered in an interface name";
	}
	return NULL;
}

static void mac_fmt(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

static int check_port(const struct hygiene_port *p, struct buf *err)
{
	const char *why;

	if ((why = hygiene_ifname_invalid(p->bridge))) {
		if (err)
			buf_printf(err, "bridge \"%s\": %s.", p->bridge ? p->bridge : "", why);
		return -EINVAL;
	}
	if ((why = hygiene_ifname_invalid(p->port))) {
		if (err)
			buf_printf(err, "port \"%s\": %s.", p->port ? p->port : "", why);
		return -EINVAL;
	}
	if (p->mac[0] & 1) {
		if (err)
			buf_printf(err, "port %s: the guest's MAC must be a unicast address.", p->port);
		return -EINVAL;
	}
	if (!memcmp(p->mac, "\0\0\0\0\0\0", 6)) {
		if (err)
			buf_printf(err, "port %s: the guest's MAC must not be 00:00:00:00:00:00.", p->port);
		return -EINVAL;
	}
	if (p->has_ipv4) {
		uint32_t a = ntohl(p->ipv4.s_addr);
		if (a == 0 || a == 0xffffffffu || (a >> 28) >= 0xe || (a >> 24) == 127) {
			char ip[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &p->ipv4, ip, sizeof(ip));
			if (err)
				buf_printf(err, "port %s: %s is not a guest's unicast IPv4 address.", p->port, ip);
			return -EINVAL;
		}
	}
	if (p->dhcp_rate > HYGIENE_DHCP_RATE_MAX || p->dhcp_burst > HYGIENE_DHCP_RATE_MAX) {
		if (err)
			buf_printf(err, "port %s: the DHCP rate and burst are at most %d packets.", p->port,
				   HYGIENE_DHCP_RATE_MAX);
		return -ERANGE;
	}
	if (p->tx_bytes_per_sec && (p->tx_bytes_per_sec < 1000 || p->tx_bytes_per_sec > (1ULL << 40))) {
		if (err)
			buf_printf(err, "port %s: a bandwidth limit is between 1000 bytes/s and 1 TiB/s.",
				   p->port);
		return -ERANGE;
	}
	return 0;
}

static void add_rule(struct buf *out, const char *chain, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_rule(struct buf *out, const char *chain, const char *fmt, ...)
{
	va_list ap;

	buf_printf(out, "add rule " T " %s ", chain);
	va_start(ap, fmt);
	buf_vprintf(out, fmt, ap);
	va_end(ap);
	buf_addch(out, '\n');
}

/* The table, the port map and the dispatching base chain, created if missing. */
static void render_skeleton(struct buf *out)
{
	buf_adds(out, "add table " T "\n"
		      "add map " T " ports { type ifname : verdict; }\n"
		      "add chain " T " prerouting { type filter hook prerouting priority -200; policy accept; }\n"
		      "flush chain " T " prerouting\n"
		      "add rule " T " prerouting iifname vmap @ports\n");
}

/* One port's part of a transaction (p already checked). */
static void render_port(const struct hygiene_port *p, const char *previous_chain, struct buf *out)
{
	__do_free char *chain = NULL;
	char mac[18], ip[INET_ADDRSTRLEN] = "0.0.0.0", machex[15];
	unsigned rate = p->dhcp_rate ? p->dhcp_rate : HYGIENE_DHCP_RATE_DEFAULT;
	unsigned burst = p->dhcp_burst ? p->dhcp_burst : HYGIENE_DHCP_BURST_DEFAULT;

	chain = xasprintf("p/%s/%s", p->bridge, p->port);
	mac_fmt(p->mac, mac);
	snprintf(machex, sizeof(machex), "0x%02x%02x%02x%02x%02x%02x", p->mac[0], p->mac[1], p->mac[2],
		 p->mac[3], p->mac[4], p->mac[5]);
	if (p->has_ipv4)
		inet_ntop(AF_INET, &p->ipv4, ip, sizeof(ip));

	buf_printf(out, "# corral traffic hygiene: port %s on bridge %s, guest %s, IPv4 %s\n", p->port,
		   p->bridge, mac, p->any_ipv4 ? "any" : p->has_ipv4 ? ip : "not leased yet");
	if (previous_chain && strcmp(previous_chain, chain)) {
		buf_printf(out, "delete element " T " ports { \"%s\" }\n", p->port);
		buf_printf(out, "flush chain " T " %s\n", previous_chain);
		buf_printf(out, "delete chain " T " %s\n", previous_chain);
	}
	buf_printf(out, "add chain " T " %s\n", chain);
	buf_printf(out, "flush chain " T " %s\n", chain);

	/* L2: own MAC only; IPv4, ARP and IPv6 only (no VLAN tags, STP, LLDP...). */
	add_rule(out, chain, "ether saddr != %s counter drop comment \"mac-spoof\"", mac);
	add_rule(out, chain, "ether type != { ip, arp, ip6 } counter drop comment \"other-l2\"");

	/* ARP: well-formed Ethernet/IPv4 ARP whose sender is the guest itself. */
	add_rule(out, chain, "ether type arp arp htype != 1 counter drop comment \"arp-malformed\"");
	add_rule(out, chain, "ether type arp arp ptype != ip counter drop comment \"arp-malformed\"");
	add_rule(out, chain, "ether type arp arp hlen != 6 counter drop comment \"arp-malformed\"");
	add_rule(out, chain, "ether type arp arp plen != 4 counter drop comment \"arp-malformed\"");
	add_rule(out, chain, "ether type arp arp saddr ether != %s counter drop comment \"arp-spoof\"", mac);
	/* Before the lease only RFC 5227 probes (sender 0.0.0.0). */
	if (!p->any_ipv4)
		add_rule(out, chain, "ether type arp arp saddr ip != %s counter drop comment \"arp-spoof\"", ip);

	/* DHCPv4: rate-limited, for the guest's own MAC only; never a server. */
	add_rule(out, chain,
		 "ether type ip udp sport 68 udp dport 67 limit rate over %u/second burst %u packets "
		 "counter drop comment \"dhcp-rate\"",
		 rate, burst);
	add_rule(out, chain,
		 "ether type ip udp sport 68 udp dport 67 @th,288,48 != %s counter drop comment \"dhcp-chaddr\"",
		 machex);
	add_rule(out, chain, "ether type ip udp sport 67 counter drop comment \"dhcp-server\"");
	add_rule(out, chain,
		 "ether type ip ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept");

	/* IPv4: only from the leased address (any if corral knows none). */
	if (p->any_ipv4)
		buf_adds(out, "# IPv4 and ARP from any address: corral does not know the guest's\n");
	else if (p->has_ipv4)
		add_rule(out, chain, "ether type ip ip saddr != %s counter drop comment \"ip-spoof\"", ip);
	else
		add_rule(out, chain, "ether type ip counter drop comment \"ip-spoof\"");

	/* IPv6: off, or on without router/DHCPv6-server roles and NDP spoofing. */
	if (p->allow_ipv6) {
		add_rule(out, chain,
			 "ether type ip6 icmpv6 type { nd-router-advert, nd-redirect } counter drop comment \"ipv6-ra\"");
		add_rule(out, chain, "ether type ip6 udp sport 547 counter drop comment \"dhcp-server\"");
		add_rule(out, chain,
			 "ether type ip6 udp sport 546 udp dport 547 limit rate over %u/second burst %u packets "
			 "counter drop comment \"dhcp-rate\"",
			 rate, burst);
		/* A neighbour advert's first option (target link-layer address) must name the guest. */
		add_rule(out, chain,
			 "ether type ip6 icmpv6 type nd-neighbor-advert @nh,528,48 != %s counter drop comment \"ndp-spoof\"",
			 machex);
	} else {
		add_rule(out, chain, "ether type ip6 counter drop comment \"ipv6-off\"");
	}

	/* Bandwidth from the guest: police (drop what exceeds the rate). */
	if (p->tx_bytes_per_sec) {
		uint64_t burst_bytes = p->tx_bytes_per_sec / 10;
		if (burst_bytes < 65536)
			burst_bytes = 65536;
		add_rule(out, chain,
			 "limit rate over %llu bytes/second burst %llu bytes counter drop comment \"tx-rate\"",
			 (unsigned long long)p->tx_bytes_per_sec, (unsigned long long)burst_bytes);
	}

	buf_printf(out, "add element " T " ports { \"%s\" : jump %s }\n", p->port, chain);
}

int hygiene_port_render(const struct hygiene_port *p, const char *previous_chain,
			struct buf *out, struct buf *err)
{
	int r;

	if ((r = check_port(p, err)) < 0)
		return r;
	render_skeleton(out);
	render_port(p, previous_chain, out);
	return 0;
}

/* ---- the kernel side ---------------------------------------------------- */

/* Run `nft ARGS` with `input` (may be NULL) readable as fd 3 (`-f /dev/fd/3`). */
static int nft_run(const char *const *args, const char *input, struct buf *out, struct buf *err,
		   const char *what)
{
	struct cmd c = CMD_INIT;
	__do_buf struct buf nerr = BUF_INIT;
	__do_close int fd = -EBADF;
	int r = 0;

	cmd_add(&c, "nft");
	for (size_t i = 0; args[i]; i++)
		cmd_add(&c, args[i]);
	if (input) {
		size_t len = strlen(input), off = 0;

		fd = memfd_create("corral-nft", MFD_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			if (err)
				buf_printf(err, "%s: cannot create the nft input: %s.", what, strerror(-r));
			cmd_release(&c);
			return r;
		}
		while (off < len) {
			ssize_t w = write(fd, input + off, len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				r = -errno;
				if (err)
					buf_printf(err, "%s: cannot write the nft input: %s.", what, strerror(-r));
				cmd_release(&c);
				return r;
			}
			off += (size_t)w;
		}
		if (lseek(fd, 0, SEEK_SET) < 0)
			r = -errno;
		else
			r = cmd_keep_fd(&c, fd, 3);
		if (r < 0) {
			if (err)
				buf_printf(err, "%s: cannot hand the rules to nft: %s.", what, strerror(-r));
			cmd_release(&c);
			return r;
		}
		cmd_add(&c, "-f");
		cmd_add(&c, "/dev/fd/3");
	}
	r = cmd_run(&c, out, &nerr);
	cmd_release(&c);
	if (r < 0) {
		if (err)
			buf_printf(err, "%s: cannot run nft (package nftables): %s.", what, strerror(-r));
		return r;
	}
	if (r != 0) {
		/* nft's first line says what it refused. */
		const char *nl = strchr(nerr.s, '\n');
		size_t n = nl ? (size_t)(nl - nerr.s) : nerr.len;
		if (err) {
			buf_printf(err, "%s: nft failed (status %d): ", what, r);
			buf_add_printable(err, nerr.s, n > 300 ? 300 : n);
			buf_addch(err, '.');
		}
		/* An absent table or map: the caller may treat it as empty. */
		if (strstr(nerr.s, "No such file or directory"))
			return -ENOENT;
		return -EIO;
	}
	return 0;
}

/* Serialise kernel changes: threads of this process, and other processes. */
static int hygiene_lock(int *fd, struct buf *err)
{
	pthread_mutex_lock(&hygiene_mutex);
	*fd = open(HYGIENE_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0 || flock(*fd, LOCK_EX) < 0) {
		int r = -errno;
		if (*fd >= 0)
			close(*fd);
		*fd = -EBADF;
		pthread_mutex_unlock(&hygiene_mutex);
		if (err)
			buf_printf(err, "cannot lock %s: %s.", HYGIENE_LOCK_PATH, strerror(-r));
		return r;
	}
	return 0;
}

static void hygiene_unlock(int fd)
{
	close(fd); /* drops the flock */
	pthread_mutex_unlock(&hygiene_mutex);
}

static int split_chain(const char *chain, struct hygiene_entry *e)
{
	const char *b, *s;

	if (strncmp(chain, "p/", 2))
		return -EINVAL;
	b = chain + 2;
	s = strchr(b, '/');
	if (!s || s == b || (size_t)(s - b) >= sizeof(e->bridge) || !s[1] ||
	    strlen(s + 1) >= sizeof(e->port) || strchr(s + 1, '/'))
		return -EINVAL;
	memcpy(e->bridge, b, (size_t)(s - b));
	e->bridge[s - b] = '\0';
	memcpy(e->port, s + 1, strlen(s + 1) + 1);
	return 0;
}

int hygiene_map_parse(const char *json, size_t len, struct hygiene_entry **out, size_t *n,
		      struct buf *err)
{
	__do_json json_t *root = NULL;
	json_error_t jerr;
	json_t *items, *it;
	size_t i;
	struct hygiene_entry *v = NULL;
	size_t nv = 0;

	*out = NULL;
	*n = 0;
	root = json_loadb(json, len, 0, &jerr);
	items = root ? json_object_get(root, "nftables") : NULL;
	if (!json_is_array(items)) {
		if (err)
			buf_printf(err, "nft printed no readable port map (%s).", root ? "no \"nftables\" array" : jerr.text);
		return -EPROTO;
	}
	json_array_foreach(items, i, it) {
		json_t *map = json_object_get(it, "map"), *elems, *el;
		size_t j;

		if (!json_is_object(map))
			continue;
		elems = json_object_get(map, "elem");
		if (!json_is_array(elems))
			continue;
		json_array_foreach(elems, j, el) {
			const char *key = json_string_value(json_array_get(el, 0));
			json_t *verdict = json_array_get(el, 1);
			const char *target = json_string_value(
				json_object_get(json_object_get(verdict, "jump"), "target"));
			struct hygiene_entry e;

			if (!key || !target || split_chain(target, &e) < 0 || strcmp(e.port, key))
				continue;
			v = xrealloc(v, (nv + 1) * sizeof(*v));
			v[nv++] = e;
		}
	}
	*out = v;
	*n = nv;
	return 0;
}

/* The ports in the kernel; an absent table is an empty list. */
static int read_ports(struct hygiene_entry **out, size_t *n, struct buf *err)
{
	static const char *const args[] = { "-j", "list", "map", "bridge", HYGIENE_TABLE, "ports", NULL };
	__do_buf struct buf json = BUF_INIT;
	__do_buf struct buf nerr = BUF_INIT;
	int r;

	*out = NULL;
	*n = 0;
	r = nft_run(args, NULL, &json, &nerr, "reading the hygiene port map");
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		if (err)
			buf_add(err, nerr.s, nerr.len);
		return r;
	}
	return hygiene_map_parse(json.s, json.len, out, n, err);
}

static int apply_text(const char *text, struct buf *err, const char *what)
{
	static const char *const args[] = { NULL };
	return nft_run(args, text, NULL, err, what);
}

int hygiene_port_apply(const struct hygiene_port *p, struct buf *err)
{
	__do_free struct hygiene_entry *cur = NULL;
	__do_free char *prev = NULL;
	__do_free char *what = NULL;
	__do_buf struct buf text = BUF_INIT;
	size_t n = 0;
	int fd, r;

	if ((r = check_port(p, err)) < 0)
		return r;
	if ((r = hygiene_lock(&fd, err)) < 0)
		return r;
	r = read_ports(&cur, &n, err);
	if (r == 0) {
		for (size_t i = 0; i < n; i++)
			if (!strcmp(cur[i].port, p->port))
				prev = xasprintf("p/%s/%s", cur[i].bridge, cur[i].port);
		r = hygiene_port_render(p, prev, &text, err);
	}
	if (r == 0) {
		what = xasprintf("filtering port %s", p->port);
		r = apply_text(text.s, err, what);
	}
	hygiene_unlock(fd);
	return r;
}

/* Remove the ports of cur[] for which pick() is true: one transaction. */
static int remove_where(bool (*pick)(const struct hygiene_entry *, const char *), const char *arg,
			struct buf *err, const char *what)
{
	__do_free struct hygiene_entry *cur = NULL;
	__do_buf struct buf text = BUF_INIT;
	size_t n = 0, picked = 0;
	int fd, r;

	if ((r = hygiene_lock(&fd, err)) < 0)
		return r;
	if ((r = read_ports(&cur, &n, err)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		picked += pick(&cur[i], arg);
	if (picked == 0)
		goto out;
	if (picked == n) {
		/* The last ports: the table goes, so nothing of corral's is left. */
		buf_adds(&text, "delete table " T "\n");
	} else {
		for (size_t i = 0; i < n; i++) {
			if (!pick(&cur[i], arg))
				continue;
			buf_printf(&text, "delete element " T " ports { \"%s\" }\n", cur[i].port);
			buf_printf(&text, "flush chain " T " p/%s/%s\n", cur[i].bridge, cur[i].port);
			buf_printf(&text, "delete chain " T " p/%s/%s\n", cur[i].bridge, cur[i].port);
		}
	}
	r = apply_text(text.s, err, what);
out:
	hygiene_unlock(fd);
	return r;
}

static bool pick_port(const struct hygiene_entry *e, const char *port)
{
	return !strcmp(e->port, port);
}

static bool pick_bridge(const struct hygiene_entry *e, const char *bridge)
{
	return !strcmp(e->bridge, bridge);
}

int hygiene_port_remove(const char *port, struct buf *err)
{
	__do_free char *what = NULL;
	const char *why = hygiene_ifname_invalid(port);

	if (why) {
		if (err)
			buf_printf(err, "port \"%s\": %s.", port ? port : "", why);
		return -EINVAL;
	}
	what = xasprintf("removing the filter of port %s", port);
	return remove_where(pick_port, port, err, what);
}

int hygiene_bridge_remove(const char *bridge, struct buf *err)
{
	__do_free char *what = NULL;
	const char *why = hygiene_ifname_invalid(bridge);

	if (why) {
		if (err)
			buf_printf(err, "bridge \"%s\": %s.", bridge ? bridge : "", why);
		return -EINVAL;
	}
	what = xasprintf("removing the port filters of bridge %s", bridge);
	return remove_where(pick_bridge, bridge, err, what);
}

int hygiene_bridge_sync(const char *bridge, const struct hygiene_port *ports, size_t n,
			struct buf *err)
{
	__do_free struct hygiene_entry *cur = NULL;
	__do_buf struct buf text = BUF_INIT;
	__do_free char *what = NULL;
	const char *why = hygiene_ifname_invalid(bridge);
	size_t nc = 0;
	int fd, r;

	if (why) {
		if (err)
			buf_printf(err, "bridge \"%s\": %s.", bridge ? bridge : "", why);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = check_port(&ports[i], err)) < 0)
			return r;
		if (strcmp(ports[i].bridge, bridge)) {
			if (err)
				buf_printf(err, "port %s is on bridge %s, not %s.", ports[i].port, ports[i].bridge,
					   bridge);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(ports[i].port, ports[j].port)) {
				if (err)
					buf_printf(err, "port %s is listed twice.", ports[i].port);
				return -EINVAL;
			}
		}
	}
	if (n == 0)
		return hygiene_bridge_remove(bridge, err);

	if ((r = hygiene_lock(&fd, err)) < 0)
		return r;
	if ((r = read_ports(&cur, &nc, err)) < 0)
		goto out;
	render_skeleton(&text);
	/* The bridge's ports corral no longer knows go... */
	for (size_t i = 0; i < nc; i++) {
		bool keep = strcmp(cur[i].bridge, bridge) != 0;

		for (size_t j = 0; j < n && !keep; j++)
			keep = !strcmp(cur[i].port, ports[j].port);
		if (keep)
			continue;
		buf_printf(&text, "delete element " T " ports { \"%s\" }\n", cur[i].port);
		buf_printf(&text, "flush chain " T " p/%s/%s\n", cur[i].bridge, cur[i].port);
		buf_printf(&text, "delete chain " T " p/%s/%s\n", cur[i].bridge, cur[i].port);
	}
	/* ...and the ones it knows are (re)applied, all in one transaction. */
	for (size_t j = 0; j < n; j++) {
		__do_free char *prev = NULL;

		for (size_t i = 0; i < nc; i++)
			if (!strcmp(cur[i].port, ports[j].port))
				prev = xasprintf("p/%s/%s", cur[i].bridge, cur[i].port);
		render_port(&ports[j], prev, &text);
	}
	what = xasprintf("re-adopting the port filters of bridge %s", bridge);
	r = apply_text(text.s, err, what);
out:
	hygiene_unlock(fd);
	return r;
}

int hygiene_port_list(const char *bridge, struct hygiene_entry **out, size_t *n, struct buf *err)
{
	struct hygiene_entry *cur = NULL;
	size_t nc = 0, k = 0;
	int fd, r;

	*out = NULL;
	*n = 0;
	if ((r = hygiene_lock(&fd, err)) < 0)
		return r;
	r = read_ports(&cur, &nc, err);
	hygiene_unlock(fd);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nc; i++)
		if (!bridge || !strcmp(cur[i].bridge, bridge))
			cur[k++] = cur[i];
	*out = cur;
	*n = k;
	return 0;
}
