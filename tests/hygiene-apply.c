/*
 * hygiene-apply.c - drive src/net/hygiene.h, shape.h and vlan.h from the
 * command line, for tests/integration/t67-hygiene.sh (built by meson for the
 * tests only, never installed).  The script builds bridges, veths and
 * network namespaces itself and calls this where corrald's net module will
 * call the same functions, so the filters are proven on a real kernel without
 * the rest of the network code.
 *
 *   hygiene-apply apply BRIDGE PORT MAC [IPV4|-] [--ipv6] [--dhcp-rate N]
 *                       [--dhcp-burst N] [--tx-rate BYTES_PER_SEC]
 *   hygiene-apply remove PORT
 *   hygiene-apply remove-bridge BRIDGE
 *   hygiene-apply sync BRIDGE [PORT MAC IPV4|-]...     (re-adoption after a restart)
 *   hygiene-apply list [BRIDGE]
 *   hygiene-apply render BRIDGE PORT MAC [IPV4|-]     (prints the transaction)
 *   hygiene-apply shape PORT RX_BYTES_PER_SEC         (0 removes the limit)
 *   hygiene-apply vlan-check [BRIDGE]
 *
 * Exit status 0 on success; 1 with the module's error sentence on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/hygiene.h"
#include "net/shape.h"
#include "net/vlan.h"
#include "util/strutil.h"
#include "util/common.h"

static int usage(void)
{
	fputs("usage: hygiene-apply apply|remove|remove-bridge|list|render|shape|vlan-check ...\n", stderr);
	return 2;
}

static int fail(struct buf *err)
{
	fprintf(stderr, "hygiene-apply: %s\n", err->s);
	return 1;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static int parse_port(int argc, char **argv, struct hygiene_port *p)
{
	int64_t v;

	if (argc < 5)
		return -EINVAL;
	p->bridge = argv[2];
	p->port = argv[3];
	if (parse_mac(argv[4], p->mac) < 0) {
		fprintf(stderr, "hygiene-apply: bad MAC %s\n", argv[4]);
		return -EINVAL;
	}
	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "--ipv6")) {
			p->allow_ipv6 = true;
		} else if (!strcmp(argv[i], "--dhcp-rate") && i + 1 < argc &&
			   str_parse_int(argv[i + 1], 0, 100000, &v) == 0) {
			p->dhcp_rate = (unsigned)v;
			i++;
		} else if (!strcmp(argv[i], "--dhcp-burst") && i + 1 < argc &&
			   str_parse_int(argv[i + 1], 0, 100000, &v) == 0) {
			p->dhcp_burst = (unsigned)v;
			i++;
		} else if (!strcmp(argv[i], "--tx-rate") && i + 1 < argc &&
			   str_parse_int(argv[i + 1], 0, INT64_MAX, &v) == 0) {
			p->tx_bytes_per_sec = (uint64_t)v;
			i++;
		} else if (i == 5 && !strcmp(argv[i], "-")) {
			p->has_ipv4 = false;
		} else if (i == 5 && inet_pton(AF_INET, argv[i], &p->ipv4) == 1) {
			p->has_ipv4 = true;
		} else {
			fprintf(stderr, "hygiene-apply: bad argument %s\n", argv[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	__do_buf struct buf err = BUF_INIT;
	__do_buf struct buf out = BUF_INIT;
	struct hygiene_port p = HYGIENE_PORT_INIT;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "apply") || !strcmp(argv[1], "render")) {
		if (parse_port(argc, argv, &p) < 0)
			return usage();
		if (!strcmp(argv[1], "render")) {
			if (hygiene_port_render(&p, NULL, &out, &err) < 0)
				return fail(&err);
			fputs(out.s, stdout);
			return 0;
		}
		return hygiene_port_apply(&p, &err) < 0 ? fail(&err) : 0;
	}
	if (!strcmp(argv[1], "remove") && argc == 3)
		return hygiene_port_remove(argv[2], &err) < 0 ? fail(&err) : 0;
	if (!strcmp(argv[1], "remove-bridge") && argc == 3)
		return hygiene_bridge_remove(argv[2], &err) < 0 ? fail(&err) : 0;
	if (!strcmp(argv[1], "sync") && argc >= 3 && (argc - 3) % 3 == 0) {
		size_t n = (size_t)(argc - 3) / 3;
		__do_free struct hygiene_port *ports = xcalloc(n ? n : 1, sizeof(*ports));

		for (size_t i = 0; i < n; i++) {
			char *args[6] = { argv[0], argv[1], argv[2], argv[3 + 3 * i], argv[4 + 3 * i],
					  argv[5 + 3 * i] };
			if (parse_port(6, args, &ports[i]) < 0)
				return usage();
		}
		return hygiene_bridge_sync(argv[2], ports, n, &err) < 0 ? fail(&err) : 0;
	}
	if (!strcmp(argv[1], "list") && argc <= 3) {
		__do_free struct hygiene_entry *e = NULL;
		size_t n = 0;

		if (hygiene_port_list(argc == 3 ? argv[2] : NULL, &e, &n, &err) < 0)
			return fail(&err);
		for (size_t i = 0; i < n; i++)
			printf("%s %s\n", e[i].bridge, e[i].port);
		return 0;
	}
	if (!strcmp(argv[1], "shape") && argc == 4) {
		int64_t v;
		if (str_parse_int(argv[3], 0, INT64_MAX, &v) < 0)
			return usage();
		return shape_port_set(argv[2], (uint64_t)v, &err) < 0 ? fail(&err) : 0;
	}
	if (!strcmp(argv[1], "vlan-check") && argc <= 3) {
		struct vlan_support s;
		int rc = 0;

		vlan_support_probe(NULL, NULL, argc == 3 ? argv[2] : NULL, &s);
		printf("bridge_vlan_filtering=%s dot1q=%s\n", s.bridge_filtering ? "yes" : "no",
		       s.dot1q ? "yes" : "no");
		if (vlan_support_require(&s, VLAN_NEED_BRIDGE_FILTERING, NULL, &err) < 0)
			rc = 1;
		if (rc)
			buf_addch(&err, ' ');
		if (vlan_support_require(&s, VLAN_NEED_DOT1Q, NULL, &err) < 0)
			rc = 1;
		if (rc)
			return fail(&err);
		return 0;
	}
	return usage();
}
