/*
 * repo_internal.h - pieces of repo.c exposed to the fuzz targets and unit
 * tests: the strict parser of corral-repo.json and the walk over the chunk
 * ids a manifest references.  Not for use outside src/backup and tests/.
 */
#ifndef CORRAL_BACKUP_REPO_INTERNAL_H
#define CORRAL_BACKUP_REPO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "repo.h"
#include "util/buf.h"

#define REPO_FORMAT_NAME "corral-backup-repository"

struct repo_config {
	char id[33];			/* 32 lower-case hex */
	uint32_t chunk_size;
	bool encrypted;
	char key_check[65];		/* encrypted only: HMAC proving the key belongs here */
};

/* Parse corral-repo.json text.  0; -EPROTONOSUPPORT when written by a newer
 * corral (format version > REPO_FORMAT_VERSION); -EINVAL otherwise.  err
 * gets one sentence that does not name the repository (the caller does). */
int repo_config_parse(const char *data, size_t len, struct repo_config *cfg, struct buf *err);

/* Call fn for every non-null chunk id in m's "disks"[]."chunks"[] (repeats
 * included).  0, fn's negative return, or -EINVAL + err for a manifest that
 * breaks the convention (then nothing can be concluded from it). */
typedef int (*repo_chunk_visit_fn)(const uint8_t digest[REPO_DIGEST_LEN], void *arg);
int repo_manifest_walk(const json_t *m, repo_chunk_visit_fn fn, void *arg, struct buf *err);

#endif
