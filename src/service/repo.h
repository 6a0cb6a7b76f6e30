/*
 * repo.h - backup repositories this host uses (repo.c, backup/repo.h).
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_REPO_H
#define CORRAL_SERVICE_REPO_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"

/* Backup repositories (repo.c, backup/repo.h).  A repository is named by
 * its absolute path; NULL means the host's default repository. */
struct repo;
/* Create and register; encrypt needs a passphrase (kept, with the key file, under
 * <state>/keys).  chunk_size 0 = default. */
int svc_repo_create(const char *path, bool encrypt, const char *passphrase, uint32_t chunk_size, json_t **out,
		    struct buf *err);
/* Register an existing repository (keyfile + passphrase when it is encrypted). */
int svc_repo_add(const char *path, const char *keyfile, const char *passphrase, json_t **out, struct buf *err);
json_t *svc_repo_list(void);
int svc_repo_get(const char *path, json_t **out, struct buf *err);
int svc_repo_set_default(const char *path, struct buf *err);
/* Forget a repository (its data and key file stay). */
int svc_repo_forget(const char *path, struct buf *err);
/* Open a registered repository; *resolved (optional) gets its path. */
int svc_repo_open(const char *path, struct repo **out, char **resolved, struct buf *err);
/* Jobs: verify backups (ids NULL = all: "check"), and prune (sweep unreferenced chunks,
 * after applying keep when given). */
int svc_repo_verify(const char *path, const char *const *ids, size_t n, json_t **job, struct buf *err);
int svc_repo_prune(const char *path, json_t **job, struct buf *err);

#endif
