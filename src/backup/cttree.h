/*
 * cttree.h - container backups: the file tree of a container's root kept in
 * a backup's manifest (cttree.c), the run that walks a root into a
 * repository (ctengine.c) and the restore that recreates it (ctrestore.c).
 * docs/backup-format.md ("Container backups") is the format's description.
 *
 * A container backup is a manifest with "kind": "container" and a "files"
 * array instead of "disks": one entry per file, directory, symlink,
 * hardlink, device node, fifo or socket of the root, in walk order (a
 * directory before what it holds), with its raw owner (the host's ids: an
 * unprivileged container's files belong to its mapped range), mode and
 * mtime.  A regular file's content is cut into the repository's chunks from
 * the file's own start, so an unchanged file deduplicates exactly against
 * the previous backup.
 *
 * The tree parser reads repository content, which may be hostile: every
 * path is relative, without "." or ".." components, empty components or
 * control characters; every entry's parent is an earlier directory entry;
 * a hardlink names an earlier regular file; a file's chunk list has exactly
 * ceil(size / chunk_size) entries.  A restore additionally resolves every
 * parent component with O_NOFOLLOW from the new root's directory fd, so
 * even a symlink it created itself is never followed.
 *
 * Ownership: cttree_from_json fills a tree the caller releases with
 * cttree_release; strings are copies.  Errors: 0 or -errno with one
 * sentence appended to err.  No globals; thread-safe on distinct trees.
 */
#ifndef CORRAL_BACKUP_CTTREE_H
#define CORRAL_BACKUP_CTTREE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "backup/backup.h"
#include "backup/repo.h"
#include "util/buf.h"

/* Manifest version of container backups (VM backups are version 1). */
#define CTTREE_MANIFEST_VERSION 2
/* Most entries a tree may hold, and deepest path (components). */
#define CTTREE_MAX_ENTRIES 4000000u
#define CTTREE_MAX_DEPTH 256
/* Most extended attributes per entry, and largest value (the kernel's). */
#define CTTREE_MAX_XATTRS 64
#define CTTREE_MAX_XATTR_VALUE 65536

enum cttree_type { CTT_DIR, CTT_FILE, CTT_SYMLINK, CTT_HARDLINK, CTT_CHR, CTT_BLK, CTT_FIFO, CTT_SOCK };

struct cttree_entry {
	char *path;		/* relative to the root; "" is the root itself */
	enum cttree_type type;
	uint32_t mode;		/* permission bits (07777) */
	uint32_t uid, gid;	/* as stored on the host's disk */
	int64_t mtime;		/* seconds */
	uint32_t mtime_ns;
	uint64_t size;		/* regular files: content length */
	uint8_t (*chunks)[REPO_DIGEST_LEN]; /* regular files: ceil(size / chunk size) ids */
	bool *zero;		/* per chunk: an all-zero piece, not stored (chunks[i] unused) */
	size_t nchunks;
	char *target;		/* symlink: its target; hardlink: path of the file it is a link to */
	uint64_t rdev;		/* character and block devices */
	json_t *xattrs;		/* extended attributes {name: value as hex}, or NULL (owned) */
};

struct cttree {
	struct cttree_entry *e;
	size_t n, alloc;
};

const char *cttree_type_name(enum cttree_type t);
/* -EINVAL + err unless p is a relative path as above ("" is the root). */
int cttree_path_check(const char *p, struct buf *err);
/* Parse and check a manifest's "files" array (chunk_size: the manifest's). */
int cttree_from_json(const json_t *files, uint32_t chunk_size, struct cttree *t, struct buf *err);
/* The "files" array (new reference). */
json_t *cttree_to_json(const struct cttree *t);
/* Append an entry (takes nothing: copies path and target). */
struct cttree_entry *cttree_add(struct cttree *t, const char *path, enum cttree_type type);
void cttree_release(struct cttree *t);
/* Index of the entry at path (a cttree_path_check'ed path, or with a leading
 * '/' which is ignored), or -1. */
ssize_t cttree_find(const struct cttree *t, const char *path);

/* ---- ctengine.c: backing up a root ---- */

struct backup_ct_req {
	const char *name, *uuid;	/* the container */
	const json_t *definition;	/* kept as manifest "container" */
	const char *rootfs;		/* directory to walk (no mount crossed, no symlink followed) */
	const char *policy;		/* recorded, may be NULL */
	const char *consistency;	/* "stopped" or "frozen" */
	int64_t now;
	const atomic_bool *cancel;
};

struct backup_ct_result {
	char *id;
	int64_t duration_ms;
	uint64_t entries, files, size, bytes_new, chunks, chunks_new, skipped;
};

/* Walk req->rootfs into r (shared lock held by the caller).  Progress: bytes
 * of file content read over the total (phase "read", then "finish").  On
 * failure or cancel (-ECANCELED) no manifest exists; stored chunks wait for
 * the next sweep. */
int backup_ct(struct repo *r, const struct backup_ct_req *req, backup_progress_cb cb, void *arg,
	      struct backup_ct_result *res, struct buf *err);
void backup_ct_result_release(struct backup_ct_result *res);
json_t *backup_ct_result_json(const struct backup_ct_result *res);

/* ---- ctrestore.c ---- */

/* Whether manifest m is a container backup; its tree (checked) into t. */
bool backup_manifest_is_ct(const json_t *m);
int backup_ct_tree(const json_t *m, struct cttree *t, struct buf *err);
/* Owners moved from one unprivileged id range to another: a uid in
 * [from_uid, from_uid + count) becomes to_uid + (uid - from_uid), gids
 * alike; ids outside the range stay.  count 0: no shift. */
struct cttree_idshift {
	uint32_t from_uid, from_gid, to_uid, to_gid, count;
};
uint32_t cttree_shift_uid(const struct cttree_idshift *s, uint32_t uid);
uint32_t cttree_shift_gid(const struct cttree_idshift *s, uint32_t gid);
/* Recreate tree t under the empty directory rootfd (ownership, shifted by
 * shift (NULL: none), modes, mtimes as recorded).  Nothing outside rootfd
 * is touched.  On cancel -ECANCELED (the caller removes what was made). */
int backup_ct_restore(struct repo *r, const struct cttree *t, int rootfd, const struct cttree_idshift *shift,
		      const atomic_bool *cancel, backup_progress_cb cb, void *arg, struct buf *err);
/* Write regular file entry e's content to fd. */
int backup_ct_file_write(struct repo *r, const struct cttree_entry *e, int fd, struct buf *err);

#endif
