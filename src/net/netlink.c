/*
 * netlink.c - rtnetlink requests with libmnl (see netlink.h).
 *
 * One request per socket: build the message, send it with NLM_F_ACK, run
 * the replies through mnl_cb_run until the acknowledgement (or the end of a
 * dump) arrives.  The kernel's errno is the answer; the sentence says what
 * was being done to which link.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "netlink.h"
#include "util/common.h"

bool nl_ifname_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '_' || *c == '.'))
			return false;
	return true;
}

/* Send `nlh` and feed every reply to cb (NULL: only the ack).  0 or -errno. */
static int nl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int r;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto out;
	}
	/* never wait on the kernel forever (a request without an answer is a bug) */
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	unsigned portid = mnl_socket_get_portid(nl);
	unsigned seq = nlh->nlmsg_seq = (unsigned)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len < 0) {
			r = -errno;
			break;
		}
		r = mnl_cb_run(buf, (size_t)len, seq, portid, cb, data);
		if (r <= MNL_CB_STOP) {
			r = r < 0 ? -errno : 0;
			break;
		}
	}
out:
	mnl_socket_close(nl);
	return r;
}

static struct nlmsghdr *link_msg(char *buf, int type, unsigned flags, const char *name)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nlh;
}

static int fail(struct buf *err, int r, const char *what, const char *name)
{
	if (err)
		buf_printf(err, "cannot %s %s: %s", what, name, strerror(-r));
	return r;
}

/* ---- reading a link ---- */

static int linkinfo_cb(const struct nlattr *a, void *data)
{
	struct nl_link *l = data;
	if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
		snprintf(l->kind, sizeof(l->kind), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct nl_link *l = data;
	switch (mnl_attr_get_type(a)) {
	case IFLA_IFALIAS:
		snprintf(l->alias, sizeof(l->alias), "%s", mnl_attr_get_str(a));
		break;
	case IFLA_MASTER:
		l->master = (int)mnl_attr_get_u32(a);
		break;
	case IFLA_LINKINFO:
		mnl_attr_parse_nested(a, linkinfo_cb, l);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_link *l = data;
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	l->index = ifi->ifi_index;
	l->up = (ifi->ifi_flags & IFF_UP) != 0;
	return mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, l);
}

int nl_link_get(const char *name, struct nl_link *out, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	memset(out, 0, sizeof(*out));
	if (!nl_ifname_valid(name))
		return fail(err, -EINVAL, "look up link", name);
	struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, NLM_F_ACK, name);
	int r = nl_talk(nlh, link_cb, out);
	if (r == -ENODEV)
		return r; /* the caller words "does not exist" */
	return r < 0 ? fail(err, r, "look up link", name) : 0;
}

/* ---- changing links ---- */

static int set_alias(const char *name, const char *alias, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	/* The kernel ignores IFLA_IFALIAS in a create: set it on the new link. */
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_ACK, name);
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	int r = nl_talk(nlh, NULL, NULL);
	if (r < 0) {
		nl_link_delete(name, NULL);
		return fail(err, r, "name link", name);
	}
	return 0;
}

int nl_bridge_create(const char *name, const char *alias, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, name);
	struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, info);
	int r = nl_talk(nlh, NULL, NULL);
	if (r < 0)
		return fail(err, r, "create bridge", name);
	return alias ? set_alias(name, alias, err) : 0;
}

int nl_vxlan_create(const char *name, uint32_t vni, uint16_t port, uint32_t local, const char *alias,
		    struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, name);
	struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, vni);
	mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(port));
	if (local)
		mnl_attr_put_u32(nlh, IFLA_VXLAN_LOCAL, local);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 1);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	int r = nl_talk(nlh, NULL, NULL);
	if (r < 0)
		return fail(err, r, "create VXLAN link", name);
	return alias ? set_alias(name, alias, err) : 0;
}

int nl_vxlan_peer_add(const char *name, uint32_t dst, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	static const uint8_t zero[6] = { 0 };
	unsigned idx = if_nametoindex(name);
	if (!idx)
		return fail(err, -errno, "find link", name);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK;
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = AF_BRIDGE;
	nd->ndm_ifindex = (int)idx;
	nd->ndm_state = NUD_PERMANENT | NUD_NOARP;
	nd->ndm_flags = NTF_SELF;
	mnl_attr_put(nlh, NDA_LLADDR, sizeof(zero), zero);
	mnl_attr_put_u32(nlh, NDA_DST, dst);
	int r = nl_talk(nlh, NULL, NULL);
	if (r == -EEXIST)
		r = 0;
	return r < 0 ? fail(err, r, "add a VXLAN peer to", name) : 0;
}

int nl_link_delete(const char *name, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int r = nl_talk(link_msg(buf, RTM_DELLINK, NLM_F_ACK, name), NULL, NULL);
	return r < 0 ? fail(err, r, "delete link", name) : 0;
}

int nl_link_set_up(const char *name, bool up, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_ACK, name);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	int r = nl_talk(nlh, NULL, NULL);
	return r < 0 ? fail(err, r, up ? "bring up" : "bring down", name) : 0;
}

int nl_link_set_master(const char *name, const char *master, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned idx = 0;
	if (master && !(idx = if_nametoindex(master)))
		return fail(err, -errno, "find bridge", master);
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_ACK, name);
	mnl_attr_put_u32(nlh, IFLA_MASTER, idx);
	int r = nl_talk(nlh, NULL, NULL);
	if (r < 0 && err)
		buf_printf(err, "cannot attach %s to bridge %s: %s", name, master ? master : "(none)", strerror(-r));
	return r;
}

/* ---- VLANs on bridges ---- */

struct nlmsghdr *nl_bridge_vlan_filtering_msg(char *buf, const char *name, bool on)
{
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_ACK, name);
	struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u8(nlh, IFLA_BR_VLAN_FILTERING, on ? 1 : 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nlh;
}

int nl_bridge_vlan_filtering(const char *name, bool on, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int r = nl_talk(nl_bridge_vlan_filtering_msg(buf, name, on), NULL, NULL);
	if (r < 0 && err)
		buf_printf(err, "cannot turn VLAN filtering %s on bridge %s: %s", on ? "on" : "off", name,
			   r == -EOPNOTSUPP ? "the kernel lacks bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)"
					    : strerror(-r));
	return r;
}

struct nlmsghdr *nl_port_vlan_msg(char *buf, int port_index, const struct vlan_entry *e)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = e->del ? RTM_DELLINK : RTM_SETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_BRIDGE;
	ifi->ifi_index = port_index;
	struct nlattr *spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	struct bridge_vlan_info vi = {
		.flags = (uint16_t)((e->pvid ? BRIDGE_VLAN_INFO_PVID : 0) | (e->untagged ? BRIDGE_VLAN_INFO_UNTAGGED : 0)),
		.vid = e->vid,
	};
	mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi);
	mnl_attr_nest_end(nlh, spec);
	return nlh;
}

int nl_port_vlan_apply(const char *port, const struct vlan_entry *e, size_t n, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned idx = if_nametoindex(port);
	if (!idx)
		return fail(err, -errno, "find bridge port", port);
	for (size_t i = 0; i < n; i++) {
		int r = nl_talk(nl_port_vlan_msg(buf, (int)idx, &e[i]), NULL, NULL);
		if (r == -ENOENT && e[i].del)
			continue; /* already gone */
		if (r < 0) {
			if (err)
				buf_printf(err, "cannot %s VLAN %u %s port %s: %s", e[i].del ? "remove" : "add", e[i].vid,
					   e[i].del ? "from" : "to", port, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Names of the attributes these requests carry, by nesting context. */
static const char *attr_name(int ctx, int type)
{
	switch (ctx) {
	case 0: /* top level of a link message */
		switch (type) {
		case IFLA_IFNAME: return "IFLA_IFNAME";
		case IFLA_LINKINFO: return "IFLA_LINKINFO";
		case IFLA_AF_SPEC: return "IFLA_AF_SPEC";
		case IFLA_MASTER: return "IFLA_MASTER";
		}
		break;
	case IFLA_LINKINFO:
		switch (type) {
		case IFLA_INFO_KIND: return "IFLA_INFO_KIND";
		case IFLA_INFO_DATA: return "IFLA_INFO_DATA";
		}
		break;
	case IFLA_INFO_DATA:
		if (type == IFLA_BR_VLAN_FILTERING)
			return "IFLA_BR_VLAN_FILTERING";
		break;
	case IFLA_AF_SPEC:
		if (type == IFLA_BRIDGE_VLAN_INFO)
			return "IFLA_BRIDGE_VLAN_INFO";
		if (type == IFLA_BRIDGE_FLAGS)
			return "IFLA_BRIDGE_FLAGS";
		break;
	}
	return "?";
}

static void attrs_format(const char *p, size_t len, int ctx, int depth, struct buf *out)
{
	while (len >= sizeof(struct nlattr)) {
		const struct nlattr *a = (const struct nlattr *)(const void *)p;
		size_t alen = a->nla_len, plen = alen > sizeof(*a) ? alen - sizeof(*a) : 0;
		int type = a->nla_type & NLA_TYPE_MASK;
		const uint8_t *v = (const uint8_t *)p + sizeof(*a);
		if (alen < sizeof(*a) || alen > len)
			break;
		buf_printf(out, "%*s%s(%d) len %zu", 2 * depth, "", attr_name(ctx, type), type, alen);
		bool nested = (ctx == 0 && (type == IFLA_LINKINFO || type == IFLA_AF_SPEC)) ||
			      (ctx == IFLA_LINKINFO && type == IFLA_INFO_DATA);
		if (nested) {
			buf_adds(out, "\n");
			attrs_format((const char *)v, plen, type, depth + 1, out);
		} else if ((ctx == 0 && type == IFLA_IFNAME) || (ctx == IFLA_LINKINFO && type == IFLA_INFO_KIND)) {
			buf_printf(out, " \"%.*s\"\n", (int)strnlen((const char *)v, plen), (const char *)v);
		} else if (ctx == IFLA_AF_SPEC && type == IFLA_BRIDGE_VLAN_INFO && plen == sizeof(struct bridge_vlan_info)) {
			struct bridge_vlan_info vi;
			memcpy(&vi, v, sizeof(vi));
			buf_printf(out, " vid %u flags 0x%x%s%s\n", vi.vid, vi.flags,
				   vi.flags & BRIDGE_VLAN_INFO_PVID ? " PVID" : "",
				   vi.flags & BRIDGE_VLAN_INFO_UNTAGGED ? " UNTAGGED" : "");
		} else {
			buf_adds(out, " =");
			for (size_t i = 0; i < plen; i++)
				buf_printf(out, " %02x", v[i]);
			buf_adds(out, "\n");
		}
		size_t step = MNL_ALIGN(alen);
		if (step > len)
			break;
		p += step;
		len -= step;
	}
}

void nl_msg_format(const struct nlmsghdr *nlh, struct buf *out)
{
	const char *type = nlh->nlmsg_type == RTM_NEWLINK   ? "RTM_NEWLINK"
			   : nlh->nlmsg_type == RTM_SETLINK ? "RTM_SETLINK"
			   : nlh->nlmsg_type == RTM_DELLINK ? "RTM_DELLINK"
							    : "?";
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	buf_printf(out, "%s(%u) flags 0x%x%s%s%s%s len %u\n", type, nlh->nlmsg_type, nlh->nlmsg_flags,
		   nlh->nlmsg_flags & NLM_F_REQUEST ? " REQUEST" : "", nlh->nlmsg_flags & NLM_F_ACK ? " ACK" : "",
		   nlh->nlmsg_flags & NLM_F_CREATE ? " CREATE" : "", nlh->nlmsg_flags & NLM_F_EXCL ? " EXCL" : "",
		   nlh->nlmsg_len);
	buf_printf(out, "ifinfomsg family %s(%u) index %d flags 0x%x change 0x%x\n",
		   ifi->ifi_family == AF_BRIDGE ? "AF_BRIDGE" : ifi->ifi_family == AF_UNSPEC ? "AF_UNSPEC" : "?",
		   ifi->ifi_family, ifi->ifi_index, ifi->ifi_flags, ifi->ifi_change);
	attrs_format((const char *)mnl_nlmsg_get_payload_offset(nlh, sizeof(*ifi)),
		     nlh->nlmsg_len - MNL_NLMSG_HDRLEN - MNL_ALIGN(sizeof(*ifi)), 0, 1, out);
	const uint8_t *b = (const uint8_t *)nlh;
	for (unsigned i = 0; i < nlh->nlmsg_len; i++)
		buf_printf(out, "%s%02x", i % 16 == 0 ? (i ? "\n  " : "  ") : " ", b[i]);
	buf_adds(out, "\n");
}

/* An RTM_NEWADDR request (create or replace) for link idx; the caller adds the address. */
static struct nlmsghdr *addr_msg(char *buf, int family, unsigned idx, int prefix, unsigned char flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (unsigned char)family;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = idx;
	ifa->ifa_flags = flags;
	return nlh;
}

int nl_addr4_add(const char *name, uint32_t addr, int prefix, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned idx = if_nametoindex(name);
	if (!idx)
		return fail(err, -errno, "find link", name);
	struct nlmsghdr *nlh = addr_msg(buf, AF_INET, idx, prefix, 0);
	mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);
	if (prefix < 31) {
		uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
		mnl_attr_put_u32(nlh, IFA_BROADCAST, (addr & mask) | ~mask);
	}
	int r = nl_talk(nlh, NULL, NULL);
	if (r == -EEXIST)
		r = 0;
	return r < 0 ? fail(err, r, "add an address to", name) : 0;
}

int nl_addr6_add(const char *name, const uint8_t addr[16], int prefix, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned idx = if_nametoindex(name);
	if (!idx)
		return fail(err, -errno, "find link", name);
	/* ours on a bridge of ours: no duplicate address detection, usable at once */
	struct nlmsghdr *nlh = addr_msg(buf, AF_INET6, idx, prefix, IFA_F_NODAD);
	mnl_attr_put(nlh, IFA_LOCAL, 16, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, 16, addr);
	int r = nl_talk(nlh, NULL, NULL);
	if (r == -EEXIST)
		r = 0;
	return r < 0 ? fail(err, r, "add an IPv6 address to", name) : 0;
}

/* ---- listing addresses ---- */

struct addr_list {
	struct nl_addr4 *v;
	size_t n, alloc;
};

static int addr_attr_cb(const struct nlattr *a, void *data)
{
	uint32_t *local = data;
	if (mnl_attr_get_type(a) == IFA_LOCAL || (mnl_attr_get_type(a) == IFA_ADDRESS && !*local))
		*local = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_list *l = data;
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	uint32_t local = 0;
	if (ifa->ifa_family != AF_INET)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, &local);
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 8;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n++] = (struct nl_addr4){ (int)ifa->ifa_index, local, ifa->ifa_prefixlen };
	return MNL_CB_OK;
}

int nl_addr4_list(struct nl_addr4 **out, size_t *n, struct buf *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct addr_list l = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	int r = nl_talk(nlh, addr_cb, &l);
	if (r < 0) {
		free(l.v);
		if (err)
			buf_printf(err, "cannot list the host's addresses: %s", strerror(-r));
		return r;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}
