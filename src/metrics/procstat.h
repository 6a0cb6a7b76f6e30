/*
 * procstat.h - reading the kernel's and QEMU's counters for the metrics
 * sampler (service/metrics.h): the host's /proc/stat, /proc/meminfo and
 * /proc/loadavg, a process's /proc/PID/statm and /proc/PID/stat, a network
 * interface's /sys/class/net/IF/statistics, and QMP's query-blockstats.
 *
 * Every parser takes the text (or JSON) already read, so the unit tests
 * feed it recorded and hostile input; the *_read() helpers read the real
 * file and call the parser.  Nothing here keeps state or allocates beyond
 * what a function returns.
 *
 * Units: CPU time in microseconds (jiffies converted with the clock tick),
 * memory in bytes, counters as the kernel or QEMU keep them (they wrap
 * only at 2^64 and restart at 0 with a new QEMU).
 *
 * Errors: 0 or -errno (-EINVAL: the text is not what the kernel writes).
 * Threading: every function is reentrant.
 */
#ifndef CORRAL_METRICS_PROCSTAT_H
#define CORRAL_METRICS_PROCSTAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

/* The "cpu " line of /proc/stat: time spent busy (user, nice, system, irq,
 * softirq, steal; guest time is inside user) and in all (busy + idle +
 * iowait), and the number of "cpuN" lines. */
struct ps_cpu {
	uint64_t busy_us, total_us;
	int ncpus;
};
/* clk_tck: jiffies per second (sysconf(_SC_CLK_TCK)). */
int ps_cpu_parse(const char *text, long clk_tck, struct ps_cpu *out);
int ps_cpu_read(struct ps_cpu *out);

/* MemTotal and MemAvailable of /proc/meminfo (kB there, bytes here). */
struct ps_mem {
	uint64_t total, available;
};
int ps_mem_parse(const char *text, struct ps_mem *out);
int ps_mem_read(struct ps_mem *out);

/* The three load averages of /proc/loadavg. */
struct ps_load {
	double load1, load5, load15;
};
int ps_load_parse(const char *text, struct ps_load *out);
int ps_load_read(struct ps_load *out);

/* Resident set size from /proc/PID/statm (its second field, in pages). */
int ps_rss_parse(const char *text, long page_size, uint64_t *bytes);
int ps_rss_read(pid_t pid, uint64_t *bytes);

/* utime + stime of /proc/PID/stat (fields 14 and 15, after the ")" that
 * ends the command name, which may itself hold spaces and parentheses). */
int ps_proc_cpu_parse(const char *text, long clk_tck, uint64_t *us);
int ps_proc_cpu_read(pid_t pid, uint64_t *us);

/* A network interface's counters (/sys/class/net/IF/statistics/). */
struct ps_net {
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
};
/* -ENOENT when the interface does not exist (the NIC has no tap, or it is gone). */
int ps_net_read(const char *ifname, struct ps_net *out);

/* One guest disk of query-blockstats. */
struct ps_blk {
	char device[32]; /* the guest device corral named: "disk<slot>" */
	uint64_t rd_bytes, wr_bytes, rd_ops, wr_ops;
};
/*
 * The disks of a query-blockstats reply (the "return" array): each entry
 * whose "qdev" is corral's disk device ("disk3" or
 * "/machine/peripheral/disk3/virtio-backend") with its "stats" rd_bytes,
 * wr_bytes, rd_operations and wr_operations.  Other entries (CD-ROMs,
 * block nodes without a device) are skipped, as is an entry whose numbers
 * are missing or negative.  *out is malloc'ed (NULL when *n is 0).
 */
int ps_blockstats_parse(const json_t *reply, struct ps_blk **out, size_t *n);

#endif
