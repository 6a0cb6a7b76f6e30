/*
 * test_cluster.c - the pool's membership definition and the corosync.conf
 * made from it (src/cluster/conf.c): names that could break the file are
 * refused, node ids and addresses are unique, two links give two
 * interfaces and two ringN_addr per node, the JSON form round-trips and
 * refuses what the checks refuse.  The text is compared with
 * tests/data/cluster/ one-link.conf and two-links.conf (CORRAL_REGENERATE_GOLDEN=1 rewrites them).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster/conf.h"
#include "cluster/nssdb.h"
#include "util/cmd.h"
#include "golden.h"
#include "util/cleanup.h"
#include "util/common.h"

static void two_nodes(struct cluster_def *d, unsigned links)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "lab-1");
	d->config_version = 7;
	d->token_ms = 1000;
	d->nlinks = links;
	d->nnodes = 2;
	d->nodes[0].id = 1;
	snprintf(d->nodes[0].name, sizeof(d->nodes[0].name), "h1");
	snprintf(d->nodes[0].addr[0], CLUSTER_ADDR_MAX, "10.99.0.1");
	d->nodes[1].id = 5;
	snprintf(d->nodes[1].name, sizeof(d->nodes[1].name), "host-2.lan");
	snprintf(d->nodes[1].addr[0], CLUSTER_ADDR_MAX, "10.99.0.2");
	if (links > 1) {
		snprintf(d->nodes[0].addr[1], CLUSTER_ADDR_MAX, "fd00::1");
		snprintf(d->nodes[1].addr[1], CLUSTER_ADDR_MAX, "fd00::2");
	}
}

static void test_names(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	static const char *const good[] = { "a", "lab", "Lab_2-x", "abcdefghijklmnopqrstuvwxyz012345" };
	static const char *const bad[] = { "", "a b", "a.b", "a\nb", "a}", "a#b", "../x", "é",
					   "abcdefghijklmnopqrstuvwxyz0123456", "a:b", "a{" };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_int_equal(cluster_name_check(good[i], &err), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		assert_int_equal(cluster_name_check(bad[i], &err), -EINVAL);
		assert_non_null(strstr(err.s, "cluster name"));
	}
	assert_int_equal(cluster_name_check(NULL, &err), -EINVAL);
	assert_int_equal(cluster_node_name_check("h1.example.com", &err), 0);
	assert_int_equal(cluster_node_name_check("-h1", &err), -EINVAL);
	assert_int_equal(cluster_node_name_check(".h1", &err), -EINVAL);
	assert_int_equal(cluster_node_name_check("h1\n  nodeid: 9", &err), -EINVAL);
	assert_int_equal(cluster_node_name_check("h}", &err), -EINVAL);
	buf_release(&err);
}

static void test_addrs(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	char out[CLUSTER_ADDR_MAX];
	assert_int_equal(cluster_addr_check("10.0.0.1", out, &err), 0);
	assert_string_equal(out, "10.0.0.1");
	assert_int_equal(cluster_addr_check("FD00:0::1", out, &err), 0);
	assert_string_equal(out, "fd00::1");
	static const char *const bad[] = { "", "10.0.0", "10.0.0.256", "host.lan", "10.0.0.1\n", " 10.0.0.1",
					   "10.0.0.1/24", "[::1]" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(cluster_addr_check(bad[i], out, &err), -EINVAL);
	buf_release(&err);
}

static void test_check(void **state)
{
	(void)state;
	struct cluster_def d;
	struct buf err = BUF_INIT;
	two_nodes(&d, 2);
	assert_int_equal(cluster_def_check(&d, &err), 0);
	assert_int_equal(cluster_def_next_id(&d), 6);
	assert_ptr_equal(cluster_def_node_id(&d, 5), &d.nodes[1]);

	d.nodes[1].id = 1; /* duplicate id */
	assert_int_equal(cluster_def_check(&d, &err), -EEXIST);
	two_nodes(&d, 2);
	snprintf(d.nodes[1].name, sizeof(d.nodes[1].name), "h1"); /* duplicate name */
	assert_int_equal(cluster_def_check(&d, &err), -EEXIST);
	two_nodes(&d, 2);
	snprintf(d.nodes[1].addr[0], CLUSTER_ADDR_MAX, "10.99.0.1"); /* address of another node */
	assert_int_equal(cluster_def_check(&d, &err), -EEXIST);
	two_nodes(&d, 2);
	snprintf(d.nodes[0].addr[1], CLUSTER_ADDR_MAX, "10.99.0.1"); /* twice on one node */
	assert_int_equal(cluster_def_check(&d, &err), -EINVAL);
	two_nodes(&d, 2);
	snprintf(d.nodes[0].addr[1], CLUSTER_ADDR_MAX, "FD00::1"); /* not canonical */
	assert_int_equal(cluster_def_check(&d, &err), -EINVAL);
	two_nodes(&d, 1);
	snprintf(d.nodes[0].addr[1], CLUSTER_ADDR_MAX, "fd00::1"); /* more addresses than links */
	assert_int_equal(cluster_def_check(&d, &err), -EINVAL);
	two_nodes(&d, 2);
	snprintf(d.nodes[1].addr[1], CLUSTER_ADDR_MAX, "10.0.0.2"); /* IPv6 and IPv4 on one link */
	assert_int_equal(cluster_def_check(&d, &err), -EINVAL);
	assert_non_null(strstr(err.s, "mix IPv4 and IPv6"));
	two_nodes(&d, 1);
	d.token_ms = 100;
	assert_int_equal(cluster_def_check(&d, &err), -EINVAL);
	two_nodes(&d, 1);
	d.nodes[0].id = 0;
	assert_int_equal(cluster_def_check(&d, &err), -EINVAL);
	two_nodes(&d, 1);
	assert_int_equal(cluster_def_remove(&d, "h1"), 0);
	assert_int_equal(d.nnodes, 1);
	assert_string_equal(d.nodes[0].name, "host-2.lan");
	assert_int_equal(cluster_def_remove(&d, "h1"), -ENOENT);
	assert_int_equal(cluster_def_remove(&d, "host-2.lan"), 0);
	assert_int_equal(cluster_def_check(&d, &err), -EINVAL); /* no node left */
	buf_release(&err);
}

static void test_conf_text(void **state)
{
	(void)state;
	struct cluster_def d;
	struct buf err = BUF_INIT, text = BUF_INIT;
	int bad = 0;

	two_nodes(&d, 1);
	assert_int_equal(cluster_conf_text(&d, "/var/lib/corral/cluster", &text, &err), 0);
	bad += golden_compare("cluster", "one-link.conf", text.s);
	buf_reset(&text);
	two_nodes(&d, 2);
	assert_int_equal(cluster_conf_text(&d, "/var/lib/corral/cluster", &text, &err), 0);
	bad += golden_compare("cluster", "two-links.conf", text.s);
	/* a witness: quorum.device for corosync-qdevice, still no two_node */
	buf_reset(&text);
	two_nodes(&d, 1);
	d.witness = (struct cluster_witness){ .set = true, .addr = "10.99.0.3", .port = 5403, .ping = "10.99.0.254" };
	assert_int_equal(cluster_conf_text(&d, "/var/lib/corral/cluster", &text, &err), 0);
	bad += golden_compare("cluster", "witness.conf", text.s);
	assert_null(strstr(text.s, "two_node"));
	buf_reset(&text);
	two_nodes(&d, 2);
	assert_int_equal(cluster_conf_text(&d, "/var/lib/corral/cluster", &text, &err), 0);
	assert_int_equal(bad, 0);
	/* never two_node: a two-node pool needs both hosts (docs/cluster.md) */
	assert_null(strstr(text.s, "two_node"));

	/* a directory corosync.conf cannot hold, and a def that fails its check */
	static const char *const dirs[] = { "relative/dir", "/a}b", "/a#b", "/a\nb", "/a ", "/" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		buf_reset(&text);
		assert_int_equal(cluster_conf_text(&d, dirs[i], &text, &err), -EINVAL);
		assert_int_equal(text.len, 0);
	}
	snprintf(d.nodes[0].name, sizeof(d.nodes[0].name), "h1\n}");
	buf_reset(&text);
	assert_int_equal(cluster_conf_text(&d, "/x", &text, &err), -EINVAL);
	assert_int_equal(text.len, 0);
	buf_release(&err);
	buf_release(&text);
}

static void test_json(void **state)
{
	(void)state;
	struct cluster_def d, back;
	struct buf err = BUF_INIT;
	two_nodes(&d, 2);
	__do_json json_t *j = cluster_def_to_json(&d);
	assert_int_equal(cluster_def_from_json(j, &back, &err), 0);
	assert_memory_equal(&d, &back, sizeof(d));
	d.witness = (struct cluster_witness){ .set = true, .addr = "fd00::9", .port = 5403 };
	__do_json json_t *jw = cluster_def_to_json(&d);
	assert_int_equal(cluster_def_from_json(jw, &back, &err), 0);
	assert_memory_equal(&d, &back, sizeof(d));

	/* witnesses refused: not a canonical IP, a node's own address, a bad port, three nodes */
	static const struct cluster_witness badw[] = {
		{ true, "witness.lan", 5403, "" }, { true, "10.99.0.1", 5403, "" }, { true, "10.9.9.9", 0, "" },
		{ true, "10.9.9.9", 5403, "gw" },  { true, "fd00:0::9", 5403, "" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(badw); i++) {
		d.witness = badw[i];
		buf_reset(&err);
		assert_int_equal(cluster_def_check(&d, &err), -EINVAL);
		assert_true(err.len > 0);
	}
	d.witness = (struct cluster_witness){ .set = true, .addr = "10.9.9.9", .port = 5403 };
	d.nodes[2] = d.nodes[1];
	d.nodes[2].id = 9;
	snprintf(d.nodes[2].name, sizeof(d.nodes[2].name), "h3");
	snprintf(d.nodes[2].addr[0], CLUSTER_ADDR_MAX, "10.99.0.3");
	snprintf(d.nodes[2].addr[1], CLUSTER_ADDR_MAX, "fd00::3");
	d.nnodes = 3;
	buf_reset(&err);
	assert_int_equal(cluster_def_check(&d, &err), -EINVAL);
	assert_non_null(strstr(err.s, "two nodes"));
	d.nnodes = 2;
	memset(&d.nodes[2], 0, sizeof(d.nodes[2]));
	d.witness = (struct cluster_witness){ 0 };

	static const char *const bad[] = {
		"{}",
		"{\"name\":\"x\",\"config_version\":1,\"token_ms\":1000,\"links\":1,\"nodes\":[]}",
		"{\"name\":\"x y\",\"config_version\":1,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":1,\"name\":\"a\",\"addrs\":[\"10.0.0.1\"]}]}",
		"{\"name\":\"x\",\"config_version\":1,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":1,\"name\":\"a\",\"addrs\":[\"10.0.0.1\"]}],\"more\":1}",
		"{\"name\":\"x\",\"config_version\":1,\"token_ms\":1000,\"links\":2,\"nodes\":[{\"id\":1,\"name\":\"a\",\"addrs\":[\"10.0.0.1\"]}]}",
		"{\"name\":\"x\",\"config_version\":1,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":1,\"name\":\"a\",\"addrs\":[\"a.lan\"]}]}",
		"{\"name\":\"x\",\"config_version\":1,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":-1,\"name\":\"a\",\"addrs\":[\"10.0.0.1\"]}]}",
		"{\"name\":\"x\",\"config_version\":1,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":1,\"name\":\"a\",\"addrs\":[\"10.0.0.1\"]},{\"id\":1,\"name\":\"b\",\"addrs\":[\"10.0.0.2\"]}]}",
		"{\"name\":\"x\",\"config_version\":0,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":1,\"name\":\"a\",\"addrs\":[\"10.0.0.1\"]}]}",
		"{\"name\":\"x\",\"config_version\":1,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":1,\"name\":\"a\",\"addrs\":[7]}]}",
		"{\"name\":\"x\",\"config_version\":1,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":1,\"name\":\"a\",\"addrs\":[\"10.0.0.1\"]}],\"witness\":{\"addr\":\"10.0.0.9\"}}",
		"{\"name\":\"x\",\"config_version\":1,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":1,\"name\":\"a\",\"addrs\":[\"10.0.0.1\"]},{\"id\":2,\"name\":\"b\",\"addrs\":[\"10.0.0.2\"]}],\"witness\":{\"addr\":\"10.0.0.9\",\"x\":1}}",
		"{\"name\":\"x\",\"config_version\":1,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":1,\"name\":\"a\",\"addrs\":[\"10.0.0.1\"]},{\"id\":2,\"name\":\"b\",\"addrs\":[\"10.0.0.2\"]}],\"witness\":{\"addr\":\"10.0.0.9\",\"port\":70000}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		__do_json json_t *b = json_loads(bad[i], 0, NULL);
		assert_non_null(b);
		buf_reset(&err);
		assert_true(cluster_def_from_json(b, &back, &err) < 0);
		assert_true(err.len > 0);
	}
	buf_release(&err);
}

/*
 * The witness's certificate dance with the real certutil (libnss3-tools):
 * a CA, a node's own key and request, signed for the cluster's name only,
 * imported; and the PEM check of what travels between hosts.
 */
static void test_nssdb(void **state)
{
	(void)state;
	struct buf err = BUF_INIT, csr = BUF_INIT, crt = BUF_INIT, ca = BUF_INIT, out = BUF_INIT;
	char tmpl[] = "/tmp/corral-nssdb-XXXXXX";

	assert_int_equal(nssdb_pem_check("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "x", &err), 0);
	assert_int_equal(nssdb_pem_check("", "x", &err), -EINVAL);
	assert_int_equal(nssdb_pem_check("no begin line", "x", &err), -EINVAL);
	assert_int_equal(nssdb_pem_check("-----BEGIN X-----\n\x01", "x", &err), -EINVAL);
	assert_int_equal(nssdb_pem_check(NULL, "x", &err), -EINVAL);

	struct cmd c = CMD_INIT;
	cmd_add(&c, "certutil");
	cmd_add(&c, "-H");
	int have = cmd_run(&c, &out, NULL);
	cmd_release(&c);
	if (have < 0) { /* not installed: the integration test t84 needs it anyway */
		buf_release(&err);
		buf_release(&out);
		skip();
	}
	assert_non_null(mkdtemp(tmpl));
	__do_free char *w = xasprintf("%s/witness", tmpl);
	__do_free char *n = xasprintf("%s/node", tmpl);
	buf_reset(&err);
	assert_int_equal(nssdb_ca_init(w, &err), 0);
	assert_true(nssdb_exists(w));
	assert_int_equal(nssdb_ca_pem(w, &ca, &err), 0);
	assert_non_null(strstr(ca.s, "BEGIN CERTIFICATE"));
	assert_int_equal(nssdb_client_init(n, "lab", &csr, &err), 0);
	assert_non_null(strstr(csr.s, "BEGIN NEW CERTIFICATE REQUEST"));
	/* a request for cluster lab is not signed for another cluster */
	assert_int_equal(nssdb_sign(w, "other", csr.s, &crt, &err), -EINVAL);
	assert_non_null(strstr(err.s, "not for cluster other"));
	buf_reset(&crt);
	assert_int_equal(nssdb_sign(w, "lab", csr.s, &crt, &err), 0);
	assert_int_equal(nssdb_client_finish(n, ca.s, crt.s, &err), 0);
	assert_int_equal(nssdb_client_finish(n, "junk", crt.s, &err), -EINVAL);
	nssdb_remove(w);
	nssdb_remove(n);
	assert_false(nssdb_exists(n));
	assert_int_equal(rmdir(tmpl), 0);
	buf_release(&err);
	buf_release(&csr);
	buf_release(&crt);
	buf_release(&ca);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),     cmocka_unit_test(test_addrs), cmocka_unit_test(test_check),
		cmocka_unit_test(test_conf_text), cmocka_unit_test(test_json), cmocka_unit_test(test_nssdb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
