/*
 * service.h - the service layer: what corrald can do, independent of how it is asked.
 *
 * The API layer (src/api) parses HTTP and JSON and calls the functions of
 * the concern headers next to this one (vm.h, volume.h, pool.h, clone.h,
 * snapshot.h, repo.h, backup.h, policy.h, image.h, fsview.h, host.h); all rules
 * live here: a volume belongs to at most one VM, a running VM cannot be
 * edited or deleted, every change to a VM holds its job lock, nothing is
 * half-created on failure.  Definitions are changed under one mutex so two
 * requests cannot both claim a name or a volume.
 *
 * Errors: 0 or -errno with one sentence for the user appended to err.
 * The API maps -EINVAL to invalid_argument, -ENOENT not_found, -EEXIST and
 * -EBUSY conflict, -EAGAIN busy (another job holds the VM), -ENOTSUP
 * unsupported, -ENOSPC no_space, -EACCES forbidden (a host file outside the
 * allowed directories, hostpath.h), anything else internal.
 */
#ifndef CORRAL_SERVICE_SERVICE_H
#define CORRAL_SERVICE_SERVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "core/store.h"
#include "core/store_local.h"
#include "core/vmstate.h"
#include "qemu/accel.h"
#include "util/buf.h"

struct svc_config {
	struct store *store;
	const char *state_dir;
	const char *storage_dir;
	const char *run_dir;
	const char *qemu_binary;
	const struct accel_probe *accel;
	/* the image helper (imgclient.h): its program, the account it runs as,
	 * and how long it may go without progress */
	const char *image_helper;
	const char *image_user;
	int image_timeout_s;
	/* history kept of events and finished jobs (housekeeping.c) */
	struct store_retention retention;
	/* where API callers may name host files besides the pools (hostpath.h) */
	const char *const *allow_path;
	size_t n_allow_path;
	bool allow_block_devices;
	/* a guest under TCG migrates live (else quick: migrate.c, docs/migration.md) */
	bool tcg_live_migration;
	/* the watchdog corral-guard arms: "auto", "none" or a device (ha_guard.c) */
	const char *ha_watchdog;
	/* the debian template's cached base is built again when older (days, 0: never; ct_debian.c) */
	unsigned ct_base_days;
	/* the network API (auth.h): its address and certificate fingerprint
	 * (NULL: no TCP listener), and failed logins allowed per user and per
	 * source address within a window (limit 0: no limit) */
	const char *listen;
	const char *tls_fingerprint;
	unsigned auth_fail_limit;
	unsigned auth_fail_window_s;
	/* web UI sessions (session.h): idle and absolute lifetime (0: defaults) */
	unsigned session_idle_s;
	unsigned session_max_age_s;
	/* trusted hosts (trust.h, peer.h): this host's name as others know it,
	 * and the certificate and key it presents to them as a TLS client (the
	 * listener's; NULL without a listener: no host trust then) */
	const char *host_name;
	const char *tls_cert_path;
	const char *tls_key_path;
};

int svc_init(const struct svc_config *cfg, struct buf *err);
void svc_shutdown(void);

/* Fill in what the QEMU runtime reports up to the service layer and asks of
 * it (rt_config on_state, on_event, boot_extract: events.c), so every caller
 * of rt_init (corrald, the service tests) wires the same callbacks. */
struct rt_config;
void svc_rt_hooks(struct rt_config *rc);

/* A VM uuid as text. */
typedef char svc_uuid[37];

#endif
