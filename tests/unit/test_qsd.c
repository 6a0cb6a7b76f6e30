/*
 * test_qsd.c - the command line of the qemu-storage-daemon that serves
 * replica volumes (src/qemu/qsd.c): one blockdev pair and one writable
 * writethrough export per disk, TLS from a key directory (the key itself is
 * never on the command line), and commas in paths doubled so that a path
 * cannot add options of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qemu/qsd.h"
#include "util/cleanup.h"
#include "util/cmd.h"

static void test_argv(void **state)
{
	(void)state;
	const struct qsd_disk disks[] = {
		{ "/pool/web-d0.qcow2", "qcow2", "web-d0" },
		{ "/po,ol/x,driver=raw,file=/etc/shadow", "raw", "web-d1" },
	};
	struct qsd_spec s = { .dir = "/state/replicas/u", .addr = "10.0.0.2", .port = 4711, .disks = disks,
			      .ndisks = 2 };
	struct cmd c = CMD_INIT;
	__do_free char *line = NULL;

	qsd_argv(&s, &c);
	line = cmd_to_string(&c);
	assert_string_equal(c.argv[0], "qemu-storage-daemon");
	assert_string_equal(c.argv[2], "tls-creds-psk,id=tls0,dir=/state/replicas/u/key,endpoint=server");
	assert_string_equal(c.argv[4], "driver=file,node-name=f0,filename=/pool/web-d0.qcow2");
	assert_string_equal(c.argv[6], "driver=qcow2,node-name=r0,file=f0");
	/* a comma in a path is doubled: one filename, not extra options */
	assert_string_equal(c.argv[8], "driver=file,node-name=f1,filename=/po,,ol/x,,driver=raw,,file=/etc/shadow");
	assert_string_equal(c.argv[10], "driver=raw,node-name=r1,file=f1");
	assert_string_equal(c.argv[12], "addr.type=inet,addr.host=10.0.0.2,addr.port=4711,tls-creds=tls0");
	assert_string_equal(c.argv[14], "type=nbd,id=e0,node-name=r0,name=web-d0,writable=on,writethrough=on");
	assert_string_equal(c.argv[16], "type=nbd,id=e1,node-name=r1,name=web-d1,writable=on,writethrough=on");
	assert_int_equal(c.argc, 17);
	assert_null(strstr(line, "psk="));
	cmd_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
