/*
 * procstat.c - the parsers of /proc and /sys counters and of QMP's
 * query-blockstats for the metrics sampler (see procstat.h).
 *
 * The parsers are strict about what they use and lenient about the rest:
 * a missing field is -EINVAL, an unknown extra line or field is ignored
 * (newer kernels add them).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics/procstat.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/common.h"

#define PS_READ_MAX (1 << 20)

/* The unsigned decimal at *p (spaces before it skipped); *p moves past it. */
static int next_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	char *end;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	*out = v;
	*p = end;
	return 0;
}

static uint64_t jiffies_us(uint64_t j, long clk_tck)
{
	if (clk_tck <= 0)
		clk_tck = 100;
	return j / (uint64_t)clk_tck * 1000000u + j % (uint64_t)clk_tck * 1000000u / (uint64_t)clk_tck;
}

/* The file at path, read whole, into b. */
static int read_text(const char *path, struct buf *b)
{
	return fs_read_file(path, PS_READ_MAX, b);
}

int ps_cpu_parse(const char *text, long clk_tck, struct ps_cpu *out)
{
	bool found = false;
	struct ps_cpu c = { 0 };
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, "cpu ", 4) == 0) {
			/* user nice system idle iowait irq softirq steal [guest guest_nice] */
			uint64_t v[8] = { 0 };
			const char *p = line + 4;
			int n = 0;
			while (n < 8 && next_u64(&p, &v[n]) == 0)
				n++;
			if (n < 4)
				return -EINVAL;
			uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
			c.busy_us = jiffies_us(busy, clk_tck);
			c.total_us = jiffies_us(busy + v[3] + v[4], clk_tck);
			found = true;
		} else if (strncmp(line, "cpu", 3) == 0 && line[3] >= '0' && line[3] <= '9') {
			c.ncpus++;
		}
	}
	if (!found)
		return -EINVAL;
	*out = c;
	return 0;
}

int ps_cpu_read(struct ps_cpu *out)
{
	__do_buf struct buf b = BUF_INIT;
	int r = read_text("/proc/stat", &b);
	return r < 0 ? r : ps_cpu_parse(b.s, sysconf(_SC_CLK_TCK), out);
}

/* The kB value of "key:" at the start of a line of text. */
static int meminfo_get(const char *text, const char *key, uint64_t *bytes)
{
	size_t n = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			const char *p = line + n + 1;
			uint64_t kb;
			if (next_u64(&p, &kb) < 0 || kb > UINT64_MAX / 1024)
				return -EINVAL;
			*bytes = kb * 1024;
			return 0;
		}
	}
	return -EINVAL;
}

int ps_mem_parse(const char *text, struct ps_mem *out)
{
	struct ps_mem m;
	if (meminfo_get(text, "MemTotal", &m.total) < 0 || meminfo_get(text, "MemAvailable", &m.available) < 0)
		return -EINVAL;
	*out = m;
	return 0;
}

int ps_mem_read(struct ps_mem *out)
{
	__do_buf struct buf b = BUF_INIT;
	int r = read_text("/proc/meminfo", &b);
	return r < 0 ? r : ps_mem_parse(b.s, out);
}

int ps_load_parse(const char *text, struct ps_load *out)
{
	double v[3];
	const char *p = text;
	for (int i = 0; i < 3; i++) {
		char *end;
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v[i] = strtod(p, &end);
		if (errno || end == p || (*end != ' ' && *end != '\n' && *end))
			return -EINVAL;
		p = end;
	}
	out->load1 = v[0];
	out->load5 = v[1];
	out->load15 = v[2];
	return 0;
}

int ps_load_read(struct ps_load *out)
{
	__do_buf struct buf b = BUF_INIT;
	int r = read_text("/proc/loadavg", &b);
	return r < 0 ? r : ps_load_parse(b.s, out);
}

int ps_rss_parse(const char *text, long page_size, uint64_t *bytes)
{
	const char *p = text;
	uint64_t size, rss;
	if (next_u64(&p, &size) < 0 || next_u64(&p, &rss) < 0 || page_size <= 0 || rss > UINT64_MAX / (uint64_t)page_size)
		return -EINVAL;
	*bytes = rss * (uint64_t)page_size;
	return 0;
}

int ps_rss_read(pid_t pid, uint64_t *bytes)
{
	__do_buf struct buf b = BUF_INIT;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	int r = read_text(path, &b);
	return r < 0 ? r : ps_rss_parse(b.s, sysconf(_SC_PAGESIZE), bytes);
}

int ps_proc_cpu_parse(const char *text, long clk_tck, uint64_t *us)
{
	/* "pid (comm) state ppid ..." : comm may hold ") ", so the last ')' ends it */
	const char *p = strrchr(text, ')');
	uint64_t v = 0, utime = 0, stime = 0;
	if (!p)
		return -EINVAL;
	p++;
	while (*p == ' ')
		p++;
	if (!*p || *p == '\n')
		return -EINVAL;
	p++; /* the state letter: field 3 */
	for (int field = 4; field <= 15; field++) {
		/* fields 4..15 are numbers; ppid, pgrp... may be -1 only in odd cases: allow a sign */
		while (*p == ' ')
			p++;
		if (*p == '-')
			p++;
		if (next_u64(&p, &v) < 0)
			return -EINVAL;
		if (field == 14)
			utime = v;
		else if (field == 15)
			stime = v;
	}
	*us = jiffies_us(utime + stime, clk_tck);
	return 0;
}

int ps_proc_cpu_read(pid_t pid, uint64_t *us)
{
	__do_buf struct buf b = BUF_INIT;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int r = read_text(path, &b);
	return r < 0 ? r : ps_proc_cpu_parse(b.s, sysconf(_SC_CLK_TCK), us);
}

int ps_net_read(const char *ifname, struct ps_net *out)
{
	static const char *const names[] = { "rx_bytes", "tx_bytes", "rx_packets", "tx_packets" };
	uint64_t *fields[] = { &out->rx_bytes, &out->tx_bytes, &out->rx_packets, &out->tx_packets };
	if (!ifname[0] || strchr(ifname, '/') || strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		__do_buf struct buf b = BUF_INIT;
		__do_free char *path = xasprintf("/sys/class/net/%s/statistics/%s", ifname, names[i]);
		const char *p;
		int r = read_text(path, &b);
		if (r < 0)
			return r;
		p = b.s;
		if (next_u64(&p, fields[i]) < 0)
			return -EINVAL;
	}
	return 0;
}

/* A stats member as a count: false if absent, not an integer, or negative. */
static bool stat_u64(const json_t *stats, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(stats, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

int ps_blockstats_parse(const json_t *reply, struct ps_blk **out, size_t *n)
{
	size_t i, count = 0;
	json_t *e;
	struct ps_blk *list = NULL;

	*out = NULL;
	*n = 0;
	if (!json_is_array(reply))
		return -EINVAL;
	json_array_foreach(reply, i, e) {
		const char *qdev = json_string_value(json_object_get(e, "qdev"));
		json_t *stats = json_object_get(e, "stats");
		struct ps_blk b = { 0 };
		size_t len;
		if (!qdev || !json_is_object(stats))
			continue;
		if (strncmp(qdev, "/machine/peripheral/", 20) == 0)
			qdev += 20;
		len = strcspn(qdev, "/");
		if (len < 5 || len >= sizeof(b.device) || strncmp(qdev, "disk", 4) != 0 ||
		    strspn(qdev + 4, "0123456789") != len - 4)
			continue;
		memcpy(b.device, qdev, len);
		b.device[len] = '\0';
		if (!stat_u64(stats, "rd_bytes", &b.rd_bytes) || !stat_u64(stats, "wr_bytes", &b.wr_bytes) ||
		    !stat_u64(stats, "rd_operations", &b.rd_ops) || !stat_u64(stats, "wr_operations", &b.wr_ops))
			continue;
		list = xrealloc(list, (count + 1) * sizeof(*list));
		list[count++] = b;
	}
	*out = list;
	*n = count;
	return 0;
}
