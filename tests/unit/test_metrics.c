/*
 * test_metrics.c - the pieces of the metrics sampler that take text or
 * JSON from outside (src/metrics/procstat.c: /proc/stat, /proc/meminfo,
 * /proc/loadavg, /proc/PID/statm and stat, query-blockstats), the
 * Prometheus exposition writer (src/metrics/expo.c: a VM name holding a
 * quote, a backslash or a line feed stays inside its label value), the RRD
 * history (src/metrics/rrdstore.c: counters come back as rates, gauges as
 * given, a restart of a counter is unknown rather than negative) and the
 * parser of the stats range (service/metrics.h).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics/expo.h"
#include "metrics/procstat.h"
#include "metrics/rrdstore.h"
#include "service/metrics.h"
#include "util/buf.h"
#include "util/common.h"

/* ---- /proc ---- */

static void test_cpu(void **state)
{
	(void)state;
	/* user nice system idle iowait irq softirq steal guest guest_nice, USER_HZ 100 */
	const char *stat = "cpu  100 20 30 1000 50 5 5 10 40 0\n"
			   "cpu0 50 10 15 500 25 2 3 5 20 0\n"
			   "cpu1 50 10 15 500 25 3 2 5 20 0\n"
			   "intr 12345 0 0\nctxt 999\nbtime 1700000000\n";
	struct ps_cpu c;
	assert_int_equal(ps_cpu_parse(stat, 100, &c), 0);
	assert_int_equal(c.ncpus, 2);
	/* busy = user+nice+system+irq+softirq+steal = 170 jiffies = 1.7 s (guest is inside user) */
	assert_int_equal(c.busy_us, 1700000);
	/* total = busy + idle + iowait = 1220 jiffies */
	assert_int_equal(c.total_us, 12200000);
	/* an old kernel's four fields */
	assert_int_equal(ps_cpu_parse("cpu 1 2 3 4\ncpu0 1 2 3 4\n", 250, &c), 0);
	assert_int_equal(c.busy_us, 24000);
	assert_int_equal(c.total_us, 40000);
	/* not /proc/stat */
	assert_int_equal(ps_cpu_parse("cpu0 1 2 3 4\n", 100, &c), -EINVAL);
	assert_int_equal(ps_cpu_parse("cpu  x y\n", 100, &c), -EINVAL);
	assert_int_equal(ps_cpu_parse("", 100, &c), -EINVAL);
	/* the real one */
	assert_int_equal(ps_cpu_read(&c), 0);
	assert_true(c.ncpus >= 1 && c.total_us >= c.busy_us);
}

static void test_mem_load(void **state)
{
	(void)state;
	struct ps_mem m;
	struct ps_load l;
	assert_int_equal(ps_mem_parse("MemTotal:       24683792 kB\nMemFree:        1000 kB\n"
				      "MemAvailable:   23835548 kB\nBuffers: 1 kB\n",
				      &m),
			 0);
	assert_int_equal(m.total, 24683792ULL * 1024);
	assert_int_equal(m.available, 23835548ULL * 1024);
	assert_int_equal(ps_mem_parse("MemTotal: 1 kB\n", &m), -EINVAL);  /* no MemAvailable (pre-3.14) */
	assert_int_equal(ps_mem_parse("MemTotalx: 1 kB\nMemAvailable: 1 kB\n", &m), -EINVAL);
	assert_int_equal(ps_mem_parse("MemTotal: 99999999999999999999 kB\nMemAvailable: 1 kB\n", &m), -EINVAL);

	assert_int_equal(ps_load_parse("0.52 1.58 1.98 2/345 6789\n", &l), 0);
	assert_true(fabs(l.load1 - 0.52) < 1e-9 && fabs(l.load5 - 1.58) < 1e-9 && fabs(l.load15 - 1.98) < 1e-9);
	assert_int_equal(ps_load_parse("0.52 nan 1\n", &l), -EINVAL);
	assert_int_equal(ps_load_parse("0.52 1.5x 1\n", &l), -EINVAL);
	assert_int_equal(ps_load_parse("", &l), -EINVAL);
	assert_int_equal(ps_mem_read(&m), 0);
	assert_int_equal(ps_load_read(&l), 0);
}

static void test_process(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(ps_rss_parse("60000 5000 1000 10 0 3000 0\n", 4096, &v), 0);
	assert_int_equal(v, 5000ULL * 4096);
	assert_int_equal(ps_rss_parse("60000\n", 4096, &v), -EINVAL);
	/* a command name with spaces and parentheses: the last ')' ends it */
	const char *stat = "1234 (qemu (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0\n";
	assert_int_equal(ps_proc_cpu_parse(stat, 100, &v), 0);
	assert_int_equal(v, 3000000); /* utime 250 + stime 50 jiffies */
	assert_int_equal(ps_proc_cpu_parse("1234 (qemu) S 1 2 3\n", 100, &v), -EINVAL);
	assert_int_equal(ps_proc_cpu_parse("no parenthesis", 100, &v), -EINVAL);
	/* this very process */
	assert_int_equal(ps_rss_read(getpid(), &v), 0);
	assert_true(v > 0);
	assert_int_equal(ps_proc_cpu_read(getpid(), &v), 0);
	/* interfaces: a missing one, and a name that would leave the directory */
	struct ps_net n;
	assert_int_equal(ps_net_read("corral-none0", &n), -ENOENT);
	assert_int_equal(ps_net_read("../../x", &n), -EINVAL);
	assert_int_equal(ps_net_read("lo", &n), 0);
}

/* What QEMU 7.2 answers to query-blockstats for a q35 guest with a virtio
 * disk (-blockdev: empty "device"), an IDE CD-ROM and a bare node. */
static const char blockstats[] =
	"[{\"device\": \"\", \"qdev\": \"/machine/peripheral/disk0/virtio-backend\", \"node-name\": \"fmt0\","
	" \"stats\": {\"rd_bytes\": 12800, \"wr_bytes\": 1048576, \"rd_operations\": 4, \"wr_operations\": 16,"
	" \"flush_operations\": 1, \"rd_merged\": 0, \"idle_time_ns\": 5}, \"parent\": {\"stats\": {}}},"
	" {\"device\": \"\", \"qdev\": \"disk3\", \"stats\": {\"rd_bytes\": 1, \"wr_bytes\": 2, \"rd_operations\": 3,"
	" \"wr_operations\": 4}},"
	" {\"device\": \"\", \"qdev\": \"/machine/peripheral/cdrom/\", \"stats\": {\"rd_bytes\": 9, \"wr_bytes\": 0,"
	" \"rd_operations\": 1, \"wr_operations\": 0}},"
	" {\"device\": \"\", \"node-name\": \"tgt\", \"stats\": {\"rd_bytes\": 9}},"
	" {\"device\": \"\", \"qdev\": \"disk9x\", \"stats\": {\"rd_bytes\": 1, \"wr_bytes\": 2, \"rd_operations\": 3,"
	" \"wr_operations\": 4}},"
	" {\"device\": \"\", \"qdev\": \"disk4\", \"stats\": {\"rd_bytes\": -1, \"wr_bytes\": 2, \"rd_operations\": 3,"
	" \"wr_operations\": 4}},"
	" {\"device\": \"\", \"qdev\": \"disk5\", \"stats\": {\"wr_bytes\": 2}}]";

static void test_blockstats(void **state)
{
	(void)state;
	json_error_t e;
	json_t *j = json_loads(blockstats, 0, &e);
	struct ps_blk *b = NULL;
	size_t n = 99;
	assert_non_null(j);
	assert_int_equal(ps_blockstats_parse(j, &b, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(b[0].device, "disk0");
	assert_int_equal(b[0].rd_bytes, 12800);
	assert_int_equal(b[0].wr_bytes, 1048576);
	assert_int_equal(b[0].rd_ops, 4);
	assert_int_equal(b[0].wr_ops, 16);
	assert_string_equal(b[1].device, "disk3");
	assert_int_equal(b[1].wr_ops, 4);
	free(b);
	json_decref(j);
	/* not an array: nothing */
	j = json_pack("{s:i}", "rd_bytes", 1);
	assert_int_equal(ps_blockstats_parse(j, &b, &n), -EINVAL);
	assert_null(b);
	assert_int_equal(n, 0);
	json_decref(j);
	j = json_array();
	assert_int_equal(ps_blockstats_parse(j, &b, &n), 0);
	assert_int_equal(n, 0);
	json_decref(j);
}

/* ---- Prometheus text ---- */

static void test_expo(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	expo_family(&b, "corral_vm_cpu_seconds_total", EXPO_COUNTER, "CPU time\nwith a \\ in its help.");
	expo_sample(&b, "corral_vm_cpu_seconds_total", (const char *const[]){ "host", "h1", "vm", "web1", NULL }, 12.5);
	/* hostile names: a quote, a backslash and a line feed stay inside the value */
	expo_sample(&b, "corral_vm_cpu_seconds_total",
		    (const char *const[]){ "host", "h1", "vm", "a\"b\\c\nd} 1\n# TYPE x gauge", NULL }, 3);
	expo_sample(&b, "corral_vm_cpu_seconds_total", NULL, 1e20);
	expo_sample(&b, "corral_vm_cpu_seconds_total", (const char *const[]){ "vm", "nan", NULL }, NAN);
	expo_sample(&b, "corral_vm_cpu_seconds_total", (const char *const[]){ "vm", "inf", NULL }, -INFINITY);
	expo_sample(&b, "corral_host_load1", (const char *const[]){ "host", "h1", NULL }, 1.58);
	/* a NULL value drops its label */
	expo_sample(&b, "corral_pool_used_bytes", (const char *const[]){ "host", NULL, "pool", "p", NULL }, 7);
	/* bad names are dropped, never written */
	expo_sample(&b, "corral-bad", NULL, 1);
	expo_sample(&b, "ok_name", (const char *const[]){ "bad-label", "x", NULL }, 1);
	expo_sample(&b, "ok_name", (const char *const[]){ "__reserved", "x", NULL }, 1);
	expo_family(&b, "9starts_with_digit", EXPO_GAUGE, "x");
	assert_string_equal(b.s, "# HELP corral_vm_cpu_seconds_total CPU time\\nwith a \\\\ in its help.\n"
				 "# TYPE corral_vm_cpu_seconds_total counter\n"
				 "corral_vm_cpu_seconds_total{host=\"h1\",vm=\"web1\"} 12.5\n"
				 "corral_vm_cpu_seconds_total{host=\"h1\",vm=\"a\\\"b\\\\c\\nd} 1\\n# TYPE x gauge\"} 3\n"
				 "corral_vm_cpu_seconds_total 1e+20\n"
				 "corral_vm_cpu_seconds_total{vm=\"nan\"} NaN\n"
				 "corral_vm_cpu_seconds_total{vm=\"inf\"} -Inf\n"
				 "corral_host_load1{host=\"h1\"} 1.58\n"
				 "corral_pool_used_bytes{pool=\"p\"} 7\n");
	/* every line is a comment or one sample: the hostile name did not add a line */
	size_t lines = 0;
	for (const char *p = b.s; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 9);
	assert_true(expo_name_valid("corral:recorded_rule", false));
	assert_false(expo_name_valid("corral:x", true));
	assert_false(expo_name_valid("", false));
	buf_release(&b);
}

/* ---- RRD history ---- */

static void test_rrd(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_metrics.XXXXXX";
	assert_non_null(mkdtemp(dir));
	__do_free char *path = xasprintf("%s/vm.rrd", dir);
	static const struct rrds_ds ds[] = { { "cpu", true }, { "rss", false } };
	struct buf err = BUF_INIT;
	struct rrds_series s = RRDS_SERIES_INIT;
	time_t t0 = 1700000000 / 10 * 10;

	assert_int_equal(rrds_fetch(path, t0, t0 + 100, &s, &err), -ENOENT);
	buf_reset(&err);
	/* a counter growing by 5,000,000 µs per 10 s step (half a CPU); the gauge as given */
	for (int i = 0; i <= 10; i++) {
		double v[] = { 5000000.0 * i, 1000.0 + i };
		assert_int_equal(rrds_update(path, 10, ds, 2, t0 + 10 * i, v, &err), 0);
	}
	/* the same time again: refused, nothing written */
	double again[] = { 1, 1 };
	assert_int_equal(rrds_update(path, 10, ds, 2, t0 + 100, again, &err), -EEXIST);
	buf_reset(&err);
	/* the counter restarts (a new QEMU): an unknown step, not a negative rate */
	double restart[] = { 0, 2000 }, unknown[] = { NAN, NAN };
	assert_int_equal(rrds_update(path, 10, ds, 2, t0 + 110, restart, &err), 0);
	assert_int_equal(rrds_update(path, 10, ds, 2, t0 + 120, unknown, &err), 0);

	assert_int_equal(rrds_fetch(path, t0, t0 + 120, &s, &err), 0);
	assert_int_equal(s.step, 10);
	assert_int_equal(s.nds, 2);
	assert_string_equal(s.names[0], "cpu");
	assert_string_equal(s.names[1], "rss");
	assert_true(s.rows >= 11);
	int rates = 0;
	for (size_t r = 0; r < s.rows; r++) {
		time_t t = s.start + (time_t)(r * s.step);
		double cpu = s.avg[r * 2], rss = s.avg[r * 2 + 1], cmax = s.max[r * 2];
		if (t > t0 && t <= t0 + 100) {
			assert_true(fabs(cpu - 500000.0) < 1e-6); /* µs per second */
			assert_true(fabs(cmax - 500000.0) < 1e-6);
			assert_true(fabs(rss - (1000.0 + (double)(t - t0) / 10)) < 1e-6);
			rates++;
		} else if (t == t0 + 110) {
			assert_true(isnan(cpu)); /* the restart */
			assert_true(fabs(rss - 2000) < 1e-6);
		} else if (t == t0 + 120) {
			assert_true(isnan(cpu) && isnan(rss));
		}
	}
	assert_int_equal(rates, 10);
	rrds_series_release(&s);
	/* a file that is not an RRD */
	__do_free char *junk = xasprintf("%s/junk.rrd", dir);
	FILE *f = fopen(junk, "w");
	assert_non_null(f);
	fputs("not an rrd", f);
	fclose(f);
	assert_int_equal(rrds_fetch(junk, t0, t0 + 100, &s, &err), -EIO);
	assert_non_null(strstr(err.s, junk));
	/* updating it moves it aside once; the next update starts a new file */
	buf_reset(&err);
	double v1[] = { 1, 1 };
	assert_int_equal(rrds_update(junk, 10, ds, 2, t0 + 10, v1, &err), -EIO);
	assert_non_null(strstr(err.s, ".broken"));
	__do_free char *aside = xasprintf("%s.broken", junk);
	assert_int_equal(access(aside, F_OK), 0);
	assert_int_equal(rrds_update(junk, 10, ds, 2, t0 + 10, v1, &err), 0);
	assert_int_equal(rrds_fetch(junk, t0, t0 + 100, &s, &err), 0);
	rrds_series_release(&s);
	buf_release(&err);
	unlink(aside);
	unlink(junk);
	unlink(path);
	rmdir(dir);
}

static void test_since(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	int64_t s;
	assert_int_equal(svc_metrics_since_parse("1h", &s, &err), 0);
	assert_int_equal(s, 3600);
	assert_int_equal(svc_metrics_since_parse("90s", &s, &err), 0);
	assert_int_equal(s, 90);
	assert_int_equal(svc_metrics_since_parse("30m", &s, &err), 0);
	assert_int_equal(s, 1800);
	assert_int_equal(svc_metrics_since_parse("2d", &s, &err), 0);
	assert_int_equal(s, 172800);
	assert_int_equal(svc_metrics_since_parse("1w", &s, &err), 0);
	assert_int_equal(s, 604800);
	assert_int_equal(svc_metrics_since_parse("600", &s, &err), 0);
	assert_int_equal(s, 600);
	assert_int_equal(svc_metrics_since_parse("366d", &s, &err), 0);
	static const char *const bad[] = { "", "h", "0", "0h", "-1h", "1x", "1.5h", "367d", "53w", "1h ", " 1h",
					   "99999999999999999999", "1hh" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		if (svc_metrics_since_parse(bad[i], &s, &err) != -EINVAL)
			fail_msg("since '%s' was accepted", bad[i]);
		assert_non_null(strstr(err.s, "invalid since"));
	}
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu),	   cmocka_unit_test(test_mem_load), cmocka_unit_test(test_process),
		cmocka_unit_test(test_blockstats), cmocka_unit_test(test_expo),	    cmocka_unit_test(test_rrd),
		cmocka_unit_test(test_since),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
