/*
 * repo.c - the backup repository (repo.h): a directory of content-addressed
 * chunk files and one manifest per backup, on a local disk or a share that
 * several hosts mount.
 *
 * Everything is addressed relative to one directory fd opened at repo_open,
 * so a share that is unmounted under a running backup fails loudly instead
 * of writing into the empty mount point.  New files are always written under
 * tmp/ with O_EXCL and a name unique per host, process, thread and call, then
 * renamed into place: a reader never sees a partial chunk or manifest, and
 * writers of the same chunk on several hosts race harmlessly (the content is
 * the same).  Chunks are made durable in bulk by repo_flush (syncfs), which
 * the engine calls before it writes the manifest that references them;
 * manifests themselves are fsynced, renamed and their directory fsynced.
 * Nothing on the put path takes a lock: the id is computed, one fstatat
 * tells whether the chunk is known, and only new chunks are compressed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "repo.h"
#include "chunkfile.h"
#include "repo_internal.h"
#include "repocrypt.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/strutil.h"
#include "util/common.h"

#define CONFIG_NAME "corral-repo.json"
#define CONFIG_MAX (64u << 10)
#define KEYFILE_MAX (8u << 10)
#define MANIFEST_MAX (256u << 20)
#define TS_LEN 16		/* YYYYmmddTHHMMSSZ */
#define ID_MAX 128
#define MIN_CHUNK_SIZE (64u << 10)

enum { LOCK_NONE, LOCK_SHARED, LOCK_EXCL };

struct repo {
	char *path;
	int dirfd;
	dev_t dev;		/* of the directory opened, to notice an unmount */
	ino_t ino;
	int lockfd;
	int lock_mode;
	struct repo_config cfg;
	struct repo_keys keys;
	int level;
	char host[32];
	atomic_uint_fast64_t tmp_counter;
};

/* ---- small helpers ---- */

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read a whole file relative to dirfd (at most max bytes; larger is -EFBIG). */
static int read_at(int dirfd, const char *rel, size_t max, struct buf *out)
{
	__do_close int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | (dirfd == AT_FDCWD ? 0 : O_NOFOLLOW));
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	buf_grow(out, (size_t)st.st_size + 1);
	for (;;) {
		if (out->alloc - out->len < 2)
			buf_grow(out, 4096);
		if (out->len > max)
			return -EFBIG;
		ssize_t n = read(fd, out->s + out->len, out->alloc - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	out->s[out->len] = '\0';
	return out->len > max ? -EFBIG : 0;
}

/* One sentence for an I/O failure on the repository, naming its path. */
static int io_error(const struct repo *r, const char *what, int rc, struct buf *err)
{
	if (rc == -ENOSPC || rc == -EDQUOT)
		buf_printf(err, "cannot %s: backup repository %s is full (%s)", what, r->path, strerror(-rc));
	else if (rc == -ENOENT || rc == -ESTALE || rc == -ENOTCONN || rc == -ENODEV)
		buf_printf(err, "cannot %s: backup repository %s has gone away (%s; is the share still mounted?)", what,
			   r->path, strerror(-rc));
	else if (rc == -EIO)
		buf_printf(err, "cannot %s: I/O error on backup repository %s", what, r->path);
	else
		buf_printf(err, "cannot %s in backup repository %s: %s", what, r->path, strerror(-rc));
	return rc;
}

static void chunk_relpath(const uint8_t digest[REPO_DIGEST_LEN], char out[96])
{
	char hex[2 * REPO_DIGEST_LEN + 1];

	str_hex(digest, REPO_DIGEST_LEN, hex);
	snprintf(out, 96, "chunks/%.2s/%s", hex, hex);
}

static void tmp_relpath(struct repo *r, char out[128])
{
	uint64_t n = atomic_fetch_add(&r->tmp_counter, 1);

	snprintf(out, 128, "tmp/%s.%d.%d.%" PRIu64 ".tmp", r->host, (int)getpid(), (int)gettid(), n);
}

/*
 * Write data to a new temp file and rename it to final.  durable: fsync the
 * file before and its directory after the rename.  noreplace: an existing
 * final is kept and *created set false.  A missing parent of final (a fan-out
 * directory) is made.  On any failure the temp file is removed.
 */
static int store_file(struct repo *r, const char *final, const void *data, size_t len, bool durable, bool noreplace,
		      bool *created, const char *what, struct buf *err)
{
	char tmp[128];
	__do_close int fd = -EBADF;
	int rc;

	*created = false;
	/* a clash means another host with our name, pid and thread id: next counter */
	for (int i = 0; fd < 0 && i < 100; i++) {
		tmp_relpath(r, tmp);
		fd = openat(r->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return io_error(r, what, -errno, err);
	rc = write_all(fd, data, len);
	if (rc == 0 && durable && fsync(fd) < 0)
		rc = -errno;
	if (rc == 0 && close(move_fd(fd)) < 0)
		rc = -errno;
	for (int attempt = 0; rc == 0; attempt++) {
		rc = noreplace ? renameat2(r->dirfd, tmp, r->dirfd, final, RENAME_NOREPLACE) : -1;
		if (noreplace && rc < 0 && (errno == EINVAL || errno == ENOSYS))
			noreplace = false;
		if (!noreplace)
			rc = renameat(r->dirfd, tmp, r->dirfd, final);
		if (rc == 0) {
			*created = true;
			break;
		}
		rc = -errno;
		if (rc == -EEXIST) {
			unlinkat(r->dirfd, tmp, 0);
			return 0;
		}
		if (rc == -ENOENT && attempt == 0) {
			char dir[128];
			snprintf(dir, sizeof(dir), "%s", final);
			*strrchr(dir, '/') = '\0';
			if (mkdirat(r->dirfd, dir, 0700) == 0 || errno == EEXIST)
				rc = 0;
		}
	}
	if (rc < 0) {
		unlinkat(r->dirfd, tmp, 0);
		return io_error(r, what, rc, err);
	}
	if (durable) {
		char dir[128];
		__do_close int dfd = -EBADF;
		snprintf(dir, sizeof(dir), "%s", final);
		*strrchr(dir, '/') = '\0';
		dfd = openat(r->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0)
			return io_error(r, what, -errno, err);
	}
	return 0;
}

/* ---- config ---- */

int repo_config_parse(const char *data, size_t len, struct repo_config *cfg, struct buf *err)
{
	static const char *const keys[] = { "format", "version", "id", "chunk_size", "compression", "encryption",
					    "key_check", NULL };
	__do_json json_t *o = NULL;
	json_error_t jerr;
	const char *format = NULL, *id = NULL, *comp = NULL, *enc = NULL, *check = NULL;
	int64_t version = 0, cs = 0;

	memset(cfg, 0, sizeof(*cfg));
	o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o || !json_is_object(o)) {
		buf_adds(err, "its corral-repo.json is not a JSON object");
		return -EINVAL;
	}
	if (json_get_str(o, "format", &format, err) < 0)
		return -EINVAL;
	if (!format || strcmp(format, REPO_FORMAT_NAME) != 0) {
		buf_adds(err, "its corral-repo.json does not describe a corral backup repository");
		return -EINVAL;
	}
	if (json_get_int(o, "version", 1, INT32_MAX, &version, err) < 0)
		return -EINVAL;
	if (version > REPO_FORMAT_VERSION) {
		buf_printf(err, "it was created by a newer corral (format version %" PRId64 "; this corral reads version %d)",
			   version, REPO_FORMAT_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (version != REPO_FORMAT_VERSION) {
		buf_adds(err, "its corral-repo.json has no 'version' field");
		return -EINVAL;
	}
	if (json_check_keys(o, "corral-repo.json", keys, err) < 0 || json_get_str(o, "id", &id, err) < 0 ||
	    json_get_str(o, "compression", &comp, err) < 0 || json_get_str(o, "encryption", &enc, err) < 0 ||
	    json_get_str(o, "key_check", &check, err) < 0 ||
	    json_get_int(o, "chunk_size", MIN_CHUNK_SIZE, REPO_MAX_CHUNK_SIZE, &cs, err) < 0)
		return -EINVAL;
	if (!id || strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32) {
		buf_adds(err, "its corral-repo.json has no valid 'id' (32 lower-case hex characters)");
		return -EINVAL;
	}
	if (cs == 0 || (cs & (cs - 1)) != 0) {
		buf_adds(err, "its corral-repo.json has no valid 'chunk_size' (a power of two from 64 KiB to 16 MiB)");
		return -EINVAL;
	}
	if (!comp || strcmp(comp, "zstd") != 0) {
		buf_adds(err, "its corral-repo.json names an unknown compression (only zstd is known)");
		return -EINVAL;
	}
	if (!enc || (strcmp(enc, "none") != 0 && strcmp(enc, "aes-256-gcm") != 0)) {
		buf_adds(err, "its corral-repo.json names an unknown encryption (none or aes-256-gcm)");
		return -EINVAL;
	}
	cfg->encrypted = strcmp(enc, "none") != 0;
	if (cfg->encrypted != (check != NULL) ||
	    (check && (strlen(check) != 64 || strspn(check, "0123456789abcdef") != 64))) {
		buf_adds(err, "its corral-repo.json has a 'key_check' that does not fit its encryption");
		return -EINVAL;
	}
	snprintf(cfg->id, sizeof(cfg->id), "%s", id);
	snprintf(cfg->key_check, sizeof(cfg->key_check), "%s", check ? check : "");
	cfg->chunk_size = (uint32_t)cs;
	return 0;
}

static char *config_format(const struct repo_config *cfg)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"id\": \"%s\",\n  \"chunk_size\": %u,\n"
		       "  \"compression\": \"zstd\",\n  \"encryption\": \"%s\"",
		   REPO_FORMAT_NAME, REPO_FORMAT_VERSION, cfg->id, cfg->chunk_size,
		   cfg->encrypted ? "aes-256-gcm" : "none");
	if (cfg->encrypted)
		buf_printf(&b, ",\n  \"key_check\": \"%s\"", cfg->key_check);
	buf_adds(&b, "\n}\n");
	return buf_detach(&b);
}

/* ---- create / open ---- */

static const char *const top_dirs[] = { "chunks", "backups", "tmp" };

/* Remove what repo_create made in path (best effort; used on failure). */
static void create_undo(int dirfd)
{
	char rel[16];

	for (int i = 0; i < 256; i++) {
		snprintf(rel, sizeof(rel), "chunks/%02x", i);
		unlinkat(dirfd, rel, AT_REMOVEDIR);
	}
	for (size_t i = 0; i < ARRAY_SIZE(top_dirs); i++)
		unlinkat(dirfd, top_dirs[i], AT_REMOVEDIR);
	unlinkat(dirfd, "lock", 0);
}

static int dir_check_empty(const char *path, struct buf *err)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		rc = -errno;
		buf_printf(err, "cannot create backup repository %s: %s", path, strerror(-rc));
		return rc;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			buf_printf(err, "cannot create backup repository %s: the directory is not empty", path);
			rc = -EEXIST; /* the API's 409 conflict: something is there already */
			break;
		}
	closedir(d);
	return rc;
}

static int create_layout(int dirfd, const char *path, struct buf *err)
{
	char rel[16];
	__do_close int lfd = -EBADF;

	for (size_t i = 0; i < ARRAY_SIZE(top_dirs); i++)
		if (mkdirat(dirfd, top_dirs[i], 0700) < 0)
			goto fail;
	for (int i = 0; i < 256; i++) {
		snprintf(rel, sizeof(rel), "chunks/%02x", i);
		if (mkdirat(dirfd, rel, 0700) < 0)
			goto fail;
	}
	lfd = openat(dirfd, "lock", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (lfd >= 0)
		return 0;
fail:
	buf_printf(err, "cannot create backup repository %s: %s", path, strerror(errno));
	return -errno;
}

int repo_create(const char *path, const struct repo_create_opts *o, struct buf *err)
{
	struct repo_config cfg = { .chunk_size = o->chunk_size ? o->chunk_size : REPO_DEFAULT_CHUNK_SIZE,
				   .encrypted = o->encrypt };
	struct repo_keys keys;
	uint8_t id[16];
	__do_free char *text = NULL, *cfgpath = NULL;
	__do_close int dirfd = -EBADF;
	int rc;

	if (cfg.chunk_size < MIN_CHUNK_SIZE || cfg.chunk_size > REPO_MAX_CHUNK_SIZE ||
	    (cfg.chunk_size & (cfg.chunk_size - 1)) != 0) {
		buf_printf(err, "cannot create backup repository %s: chunk size must be a power of two from 64 KiB to 16 MiB",
			   path);
		return -EINVAL;
	}
	if (o->encrypt && (!o->keyfile || !*o->keyfile || !o->passphrase || !*o->passphrase)) {
		buf_printf(err, "cannot create encrypted backup repository %s: a key file path and a passphrase are needed",
			   path);
		return -EINVAL;
	}
	rc = fs_mkdir_p(path, 0700);
	if (rc < 0) {
		buf_printf(err, "cannot create backup repository %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = dir_check_empty(path, err);
	if (rc < 0)
		return rc;
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		buf_printf(err, "cannot create backup repository %s: %s", path, strerror(-rc));
		return rc;
	}
	if (repocrypt_random(id, sizeof(id)) < 0) {
		buf_printf(err, "cannot create backup repository %s: no random numbers from OpenSSL", path);
		return -EIO;
	}
	str_hex(id, sizeof(id), cfg.id);
	rc = create_layout(dirfd, path, err);
	if (rc == 0 && o->encrypt) {
		rc = repocrypt_keyfile_create(o->keyfile, o->passphrase, cfg.id, &keys, err);
		if (rc == 0)
			repocrypt_key_check(&keys, cfg.id, cfg.key_check);
		OPENSSL_cleanse(&keys, sizeof(keys));
	}
	if (rc == 0) {
		/* the config comes last: until it exists, this is not a repository */
		text = config_format(&cfg);
		cfgpath = xasprintf("%s/%s", path, CONFIG_NAME);
		rc = fs_write_file_atomic(cfgpath, text, strlen(text), 0600);
		if (rc == 0 && (fsync(dirfd) < 0 || syncfs(dirfd) < 0))
			rc = -errno;
		if (rc < 0)
			buf_printf(err, "cannot write %s: %s", cfgpath, strerror(-rc));
		if (rc < 0)
			unlink(cfgpath);
	}
	if (rc < 0) {
		create_undo(dirfd);
		if (o->encrypt && rc != -EEXIST)
			unlink(o->keyfile);
	}
	return rc;
}

static int open_keys(struct repo *r, const char *keyfile, const char *passphrase, struct buf *err)
{
	__do_buf struct buf text = BUF_INIT, why = BUF_INIT;
	struct repo_keyfile kf;
	char check[65];
	int rc;

	if (!keyfile || !*keyfile || !passphrase) {
		buf_printf(err, "backup repository %s is encrypted: its key file and passphrase are needed", r->path);
		return -EACCES;
	}
	rc = read_at(AT_FDCWD, keyfile, KEYFILE_MAX, &text);
	if (rc < 0) {
		buf_printf(err, "cannot read key file %s for backup repository %s: %s", keyfile, r->path,
			   strerror(-rc));
		return rc;
	}
	rc = repocrypt_keyfile_parse(text.s, text.len, &kf, &why);
	if (rc < 0) {
		buf_printf(err, "key file %s is not usable: %s", keyfile, why.s);
		return rc;
	}
	if (strcmp(kf.repo_id, r->cfg.id) != 0) {
		buf_printf(err, "key file %s belongs to another repository (id %s), not to backup repository %s (id %s)",
			   keyfile, kf.repo_id, r->path, r->cfg.id);
		return -EACCES;
	}
	rc = repocrypt_keyfile_unwrap(&kf, passphrase, &r->keys);
	if (rc == -EACCES) {
		buf_printf(err, "wrong passphrase or key file for repository %s", r->path);
		return rc;
	}
	if (rc < 0) {
		buf_printf(err, "cannot unlock key file %s: scrypt failed (out of memory?)", keyfile);
		return rc;
	}
	repocrypt_key_check(&r->keys, r->cfg.id, check);
	if (CRYPTO_memcmp(check, r->cfg.key_check, 64) != 0) {
		buf_printf(err, "key file %s does not belong to backup repository %s", keyfile, r->path);
		return -EACCES;
	}
	return 0;
}

int repo_open(const char *path, const char *keyfile, const char *passphrase, struct repo **out, struct buf *err)
{
	struct repo *r;
	__do_buf struct buf text = BUF_INIT, why = BUF_INIT;
	struct stat st;
	int rc;

	*out = NULL;
	if (stat(path, &st) < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			buf_printf(err, "backup repository %s does not exist (is the share mounted?)", path);
		else
			buf_printf(err, "cannot open backup repository %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		buf_printf(err, "backup repository %s is not a directory", path);
		return -ENOTDIR;
	}
	r = xcalloc(1, sizeof(*r));
	r->path = xstrdup(path);
	r->lockfd = -EBADF;
	r->level = 3;
	r->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0) {
		rc = -errno;
		buf_printf(err, "cannot open backup repository %s: %s", path, strerror(-rc));
		goto fail;
	}
	if (fstat(r->dirfd, &st) < 0) {
		rc = -errno;
		buf_printf(err, "cannot open backup repository %s: %s", path, strerror(-rc));
		goto fail;
	}
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	rc = read_at(r->dirfd, CONFIG_NAME, CONFIG_MAX, &text);
	if (rc == -ENOENT) {
		buf_printf(err, "%s is not a corral backup repository (no %s; is the share mounted?)", path,
			   CONFIG_NAME);
		goto fail;
	}
	if (rc < 0) {
		buf_printf(err, "cannot read %s/%s: %s", path, CONFIG_NAME, strerror(-rc));
		goto fail;
	}
	rc = repo_config_parse(text.s, text.len, &r->cfg, &why);
	if (rc < 0) {
		buf_printf(err, "cannot open backup repository %s: %s", path, why.s);
		goto fail;
	}
	if (r->cfg.encrypted) {
		rc = open_keys(r, keyfile, passphrase, err);
		if (rc < 0)
			goto fail;
	}
	r->lockfd = openat(r->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (r->lockfd < 0)
		r->lockfd = openat(r->dirfd, "lock", O_RDONLY | O_CLOEXEC);
	if (r->lockfd < 0) {
		rc = -errno;
		buf_printf(err, "cannot open the lock file of backup repository %s: %s", path, strerror(-rc));
		goto fail;
	}
	if (gethostname(r->host, sizeof(r->host)) < 0)
		snprintf(r->host, sizeof(r->host), "host");
	r->host[sizeof(r->host) - 1] = '\0';
	for (char *c = r->host; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-'))
			*c = '_';
	*out = r;
	return 0;
fail:
	repo_close(r);
	return rc;
}

void repo_close(struct repo *r)
{
	if (!r)
		return;
	if (r->lockfd >= 0)
		close(r->lockfd);
	if (r->dirfd >= 0)
		close(r->dirfd);
	OPENSSL_cleanse(&r->keys, sizeof(r->keys));
	free(r->path);
	free(r);
}

const char *repo_path(const struct repo *r) { return r->path; }
const char *repo_id(const struct repo *r) { return r->cfg.id; }
uint32_t repo_chunk_size(const struct repo *r) { return r->cfg.chunk_size; }
bool repo_encrypted(const struct repo *r) { return r->cfg.encrypted; }

void repo_set_compression(struct repo *r, int level)
{
	r->level = level < 1 ? 1 : level > 19 ? 19 : level;
}

/* ---- locking ---- */

int repo_lock(struct repo *r, bool exclusive, bool wait, struct buf *err)
{
	int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);

	while (flock(r->lockfd, op) < 0) {
		int rc = -errno;
		if (rc == -EINTR)
			continue;
		if (rc == -EWOULDBLOCK) {
			buf_printf(err, "backup repository %s is in use (%s)", r->path,
				   exclusive ? "a backup, restore or verify is running"
					     : "a prune or sweep is running");
			return -EAGAIN;
		}
		return io_error(r, "lock the repository", rc, err);
	}
	r->lock_mode = exclusive ? LOCK_EXCL : LOCK_SHARED;
	return 0;
}

void repo_unlock(struct repo *r)
{
	flock(r->lockfd, LOCK_UN);
	r->lock_mode = LOCK_NONE;
}

/* ---- chunks ---- */

static const struct repo_keys *id_keys(const struct repo *r)
{
	return r->cfg.encrypted ? &r->keys : NULL;
}

int repo_chunk_put(struct repo *r, const void *data, size_t len, uint8_t digest[REPO_DIGEST_LEN], bool *is_new,
		   uint64_t *stored, struct buf *err)
{
	struct buf *enc = chunkfile_thread_buf();
	char rel[96];
	struct stat st;
	bool created, exists;
	int rc;

	*is_new = false;
	*stored = 0;
	if (len > r->cfg.chunk_size) {
		buf_printf(err, "cannot store a chunk of %zu bytes in backup repository %s: its chunk size is %u", len,
			   r->path, r->cfg.chunk_size);
		return -EINVAL;
	}
	repocrypt_chunk_id(id_keys(r), data, len, digest);
	chunk_relpath(digest, rel);
	/* shorter than a header: emptied by a power loss before a flush; rewrite it */
	exists = fstatat(r->dirfd, rel, &st, 0) == 0;
	if (exists && st.st_size >= CHUNKFILE_HDR_LEN)
		return 0;
	rc = chunkfile_encode(CHUNKFILE_CHUNK, data, len, r->level, r->cfg.encrypted ? r->keys.data : NULL, digest,
			      REPO_DIGEST_LEN, enc);
	if (rc < 0)
		return io_error(r, "compress or encrypt a chunk", rc, err);
	rc = store_file(r, rel, enc->s, enc->len, false, !exists, &created, "store a chunk", err);
	if (rc < 0)
		return rc;
	*is_new = created;
	*stored = created ? enc->len : 0;
	return 0;
}

bool repo_chunk_exists(struct repo *r, const uint8_t digest[REPO_DIGEST_LEN])
{
	char rel[96];
	struct stat st;

	chunk_relpath(digest, rel);
	return fstatat(r->dirfd, rel, &st, 0) == 0 && st.st_size >= CHUNKFILE_HDR_LEN;
}

int repo_chunk_get(struct repo *r, const uint8_t digest[REPO_DIGEST_LEN], struct buf *out, struct buf *err)
{
	struct buf *file = chunkfile_thread_buf();
	char rel[96], hex[2 * REPO_DIGEST_LEN + 1];
	uint8_t check[REPO_DIGEST_LEN];
	const char *why = NULL;
	size_t start = out->len;
	int rc;

	chunk_relpath(digest, rel);
	str_hex(digest, REPO_DIGEST_LEN, hex);
	buf_reset(file);
	/* a chunk is stored raw when zstd cannot shrink it: no valid file is longer */
	rc = read_at(r->dirfd, rel, CHUNKFILE_HDR_LEN + REPOCRYPT_OVERHEAD + (size_t)r->cfg.chunk_size, file);
	if (rc == -ENOENT) {
		struct stat st;
		if (fstatat(r->dirfd, "chunks", &st, 0) < 0)
			return io_error(r, "read a chunk", -errno, err);
		buf_printf(err, "chunk %s is missing from backup repository %s", hex, r->path);
		return rc;
	}
	if (rc == -EFBIG || rc == -EINVAL || rc == -ELOOP) {
		buf_printf(err, "chunk %s in backup repository %s is damaged: the file is not a valid chunk", hex,
			   r->path);
		return -EBADMSG;
	}
	if (rc < 0)
		return io_error(r, "read a chunk", rc, err);
	rc = chunkfile_decode(CHUNKFILE_CHUNK, (const uint8_t *)file->s, file->len, r->cfg.chunk_size,
			      r->cfg.encrypted ? r->keys.data : NULL, digest, REPO_DIGEST_LEN, out, &why);
	if (rc == 0) {
		repocrypt_chunk_id(id_keys(r), out->s + start, out->len - start, check);
		if (memcmp(check, digest, REPO_DIGEST_LEN) != 0) {
			rc = -EBADMSG;
			why = "its content does not match its id";
		}
	}
	if (rc < 0) {
		out->len = start;
		out->s[start] = '\0';
		buf_printf(err, "chunk %s in backup repository %s is damaged: %s", hex, r->path, why);
		return rc == -EPROTONOSUPPORT ? rc : -EBADMSG;
	}
	return 0;
}

/*
 * The path must still lead to the directory opened: a share unmounted lazily
 * under a running backup keeps our fd working on a detached file system,
 * where a finished backup would be invisible.
 */
static int check_mounted(struct repo *r, const char *what, struct buf *err)
{
	struct stat st;

	if (stat(r->path, &st) < 0)
		return io_error(r, what, -errno, err);
	if (st.st_dev != r->dev || st.st_ino != r->ino) {
		buf_printf(err,
			   "cannot %s: backup repository %s is no longer the directory that was opened "
			   "(was the share unmounted?)",
			   what, r->path);
		return -ESTALE;
	}
	return 0;
}

int repo_flush(struct repo *r, struct buf *err)
{
	if (syncfs(r->dirfd) < 0)
		return io_error(r, "flush written chunks to disk", -errno, err);
	return check_mounted(r, "flush written chunks to disk", err);
}

/* ---- digests ---- */

void repo_digest_hex(const uint8_t digest[REPO_DIGEST_LEN], char hex[2 * REPO_DIGEST_LEN + 1])
{
	str_hex(digest, REPO_DIGEST_LEN, hex);
}

int repo_digest_parse(const char *hex, uint8_t digest[REPO_DIGEST_LEN])
{
	return hex ? str_unhex(hex, digest, REPO_DIGEST_LEN) : -EINVAL;
}

/* ---- manifests ---- */

/* "<vm>/<YYYYmmddTHHMMSSZ>[-N]" with N in 1..9999; *slash gets the '/'. */
static bool manifest_id_valid(const char *id)
{
	const char *slash = id ? strchr(id, '/') : NULL, *ts, *n;
	char vm[NAME_MAX_LEN + 2];

	if (!slash || (size_t)(slash - id) > NAME_MAX_LEN)
		return false;
	snprintf(vm, sizeof(vm), "%.*s", (int)(slash - id), id);
	if (str_name_invalid(vm))
		return false;
	ts = slash + 1;
	if (strlen(ts) < TS_LEN)
		return false;
	for (int i = 0; i < TS_LEN; i++) {
		bool digit = ts[i] >= '0' && ts[i] <= '9';
		if (i == 8 ? ts[i] != 'T' : i == 15 ? ts[i] != 'Z' : !digit)
			return false;
	}
	n = ts + TS_LEN;
	if (*n == '\0')
		return true;
	if (*n != '-' || n[1] < '1' || n[1] > '9' || strlen(n + 1) > 4)
		return false;
	return strspn(n + 1, "0123456789") == strlen(n + 1);
}

static int check_id(const struct repo *r, const char *id, struct buf *err)
{
	if (manifest_id_valid(id))
		return 0;
	buf_printf(err, "'%s' is not a valid backup id in repository %s (expected vm/YYYYmmddTHHMMSSZ)",
		   id && !str_has_control(id) ? id : "?", r->path);
	return -EINVAL;
}

static void manifest_relpath(const char *id, char out[ID_MAX + 16])
{
	snprintf(out, ID_MAX + 16, "backups/%s.json", id);
}

static void reserve_relpath(const char *id, char out[ID_MAX + 16])
{
	const char *slash = strchr(id, '/');

	snprintf(out, ID_MAX + 16, "backups/%.*s/.%s.reserved", (int)(slash - id), id, slash + 1);
}

static int vm_dir_make(struct repo *r, const char *vm, struct buf *err)
{
	char rel[ID_MAX];
	__do_close int bfd = -EBADF;

	snprintf(rel, sizeof(rel), "backups/%s", vm);
	if (mkdirat(r->dirfd, rel, 0700) < 0) {
		if (errno == EEXIST)
			return 0;
		return io_error(r, "create a backup directory", -errno, err);
	}
	bfd = openat(r->dirfd, "backups", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0 || fsync(bfd) < 0)
		return io_error(r, "create a backup directory", -errno, err);
	return 0;
}

int repo_manifest_new_id(struct repo *r, const char *vm, int64_t t, char **id, struct buf *err)
{
	char ts[TS_LEN + 1], rel[ID_MAX + 16], res[ID_MAX + 16];
	time_t tt = (time_t)t;
	struct tm tm;
	struct stat st;
	const char *why = str_name_invalid(vm);
	int rc;

	*id = NULL;
	if (why) {
		buf_printf(err, "cannot name a backup in repository %s: invalid VM name (%s)", r->path, why);
		return -EINVAL;
	}
	if (!gmtime_r(&tt, &tm) || strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm) != TS_LEN) {
		buf_printf(err, "cannot name a backup in repository %s: time %" PRId64 " is out of range", r->path, t);
		return -EINVAL;
	}
	rc = vm_dir_make(r, vm, err);
	if (rc < 0)
		return rc;
	for (int n = 0; n < 10000; n++) {
		__do_free char *cand = n ? xasprintf("%s/%s-%d", vm, ts, n) : xasprintf("%s/%s", vm, ts);
		int fd;

		manifest_relpath(cand, rel);
		reserve_relpath(cand, res);
		if (fstatat(r->dirfd, rel, &st, 0) == 0)
			continue;
		fd = openat(r->dirfd, res, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return io_error(r, "reserve a backup id", -errno, err);
		close(fd);
		/* a manifest may have appeared (and its reservation gone) since the check */
		if (fstatat(r->dirfd, rel, &st, 0) == 0) {
			unlinkat(r->dirfd, res, 0);
			continue;
		}
		*id = move_ptr(cand);
		return 0;
	}
	buf_printf(err, "cannot name a backup of %s in repository %s: too many backups in the same second", vm,
		   r->path);
	return -EEXIST;
}

int repo_manifest_write(struct repo *r, const char *id, const json_t *manifest, struct buf *err)
{
	__do_free char *text = NULL;
	__do_buf struct buf enc = BUF_INIT;
	char rel[ID_MAX + 16], res[ID_MAX + 16], vm[NAME_MAX_LEN + 1];
	const void *data;
	size_t len;
	bool created;
	int rc;

	rc = check_id(r, id, err);
	if (rc < 0)
		return rc;
	text = json_dumps(manifest, JSON_COMPACT);
	if (!text) {
		buf_printf(err, "cannot write backup %s to repository %s: the manifest is not valid JSON", id, r->path);
		return -EINVAL;
	}
	data = text;
	len = strlen(text);
	if (r->cfg.encrypted) {
		rc = chunkfile_encode(CHUNKFILE_MANIFEST, text, len, 3, r->keys.data, id, strlen(id), &enc);
		if (rc < 0)
			return io_error(r, "encrypt a manifest", rc, err);
		data = enc.s;
		len = enc.len;
	}
	rc = check_mounted(r, "write a backup manifest", err);
	if (rc < 0)
		return rc;
	snprintf(vm, sizeof(vm), "%.*s", (int)(strchr(id, '/') - id), id);
	rc = vm_dir_make(r, vm, err);
	if (rc < 0)
		return rc;
	manifest_relpath(id, rel);
	rc = store_file(r, rel, data, len, true, false, &created, "write a backup manifest", err);
	if (rc < 0)
		return rc;
	reserve_relpath(id, res);
	unlinkat(r->dirfd, res, 0);
	return 0;
}

int repo_manifest_read(struct repo *r, const char *id, json_t **out, struct buf *err)
{
	__do_buf struct buf file = BUF_INIT, plain = BUF_INIT;
	char rel[ID_MAX + 16];
	const char *why = NULL;
	const struct buf *text = &file;
	json_error_t jerr;
	int rc;

	*out = NULL;
	rc = check_id(r, id, err);
	if (rc < 0)
		return rc;
	manifest_relpath(id, rel);
	rc = read_at(r->dirfd, rel, MANIFEST_MAX, &file);
	if (rc == -ENOENT) {
		struct stat st;
		if (fstatat(r->dirfd, "backups", &st, 0) < 0)
			return io_error(r, "read a backup manifest", -errno, err);
		buf_printf(err, "backup %s does not exist in repository %s", id, r->path);
		return rc;
	}
	if (rc < 0)
		return io_error(r, "read a backup manifest", rc, err);
	if (r->cfg.encrypted) {
		rc = chunkfile_decode(CHUNKFILE_MANIFEST, (const uint8_t *)file.s, file.len, MANIFEST_MAX, r->keys.data,
				      id, strlen(id), &plain, &why);
		if (rc < 0) {
			buf_printf(err, "the manifest of backup %s in repository %s is damaged: %s", id, r->path, why);
			return rc == -EPROTONOSUPPORT ? rc : -EBADMSG;
		}
		text = &plain;
	}
	*out = json_loadb(text->s, text->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		buf_printf(err, "the manifest of backup %s in repository %s is damaged: it is not a JSON object", id,
			   r->path);
		return -EBADMSG;
	}
	return 0;
}

int repo_manifest_delete(struct repo *r, const char *id, struct buf *err)
{
	char rel[ID_MAX + 16], dir[ID_MAX];
	__do_close int dfd = -EBADF;
	int rc;

	rc = check_id(r, id, err);
	if (rc < 0)
		return rc;
	manifest_relpath(id, rel);
	if (unlinkat(r->dirfd, rel, 0) < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			buf_printf(err, "backup %s does not exist in repository %s", id, r->path);
		else
			io_error(r, "delete a backup manifest", rc, err);
		return rc;
	}
	reserve_relpath(id, rel);
	unlinkat(r->dirfd, rel, 0);
	snprintf(dir, sizeof(dir), "backups/%.*s", (int)(strchr(id, '/') - id), id);
	dfd = openat(r->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return io_error(r, "delete a backup manifest", -errno, err);
	return 0;
}

/* Order: vm, then time, then the -N suffix numerically. */
static int id_cmp(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	const char *xs = strchr(x, '/'), *ys = strchr(y, '/');
	size_t xl = (size_t)(xs - x), yl = (size_t)(ys - y);
	int c = strncmp(x, y, xl < yl ? xl : yl);

	if (c || xl != yl)
		return c ? c : xl < yl ? -1 : 1;
	c = strncmp(xs + 1, ys + 1, TS_LEN);
	if (c)
		return c;
	long xn = xs[1 + TS_LEN] ? strtol(xs + 2 + TS_LEN, NULL, 10) : 0;
	long yn = ys[1 + TS_LEN] ? strtol(ys + 2 + TS_LEN, NULL, 10) : 0;
	return xn < yn ? -1 : xn > yn;
}

/* Call fn(vm, name) for every entry of every vm directory under backups/. */
static int backups_scan(struct repo *r, int (*fn)(struct repo *r, const char *vm, const char *name, void *arg),
			void *arg, struct buf *err)
{
	int bfd = openat(r->dirfd, "backups", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *bd;
	struct dirent *e;
	int rc = 0;

	if (bfd < 0)
		return io_error(r, "list backups", -errno, err);
	bd = fdopendir(bfd);
	if (!bd) {
		close(bfd);
		return io_error(r, "list backups", -ENOMEM, err);
	}
	while (rc == 0 && (e = readdir(bd))) {
		if (str_name_invalid(e->d_name))
			continue;
		int vfd = openat(bfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (vfd < 0) {
			if (errno == ENOTDIR || errno == ENOENT)
				continue;
			rc = io_error(r, "list backups", -errno, err);
			break;
		}
		DIR *vd = fdopendir(vfd);
		if (!vd) {
			close(vfd);
			rc = io_error(r, "list backups", -ENOMEM, err);
			break;
		}
		struct dirent *f;
		while (rc == 0 && (f = readdir(vd)))
			if (strcmp(f->d_name, ".") != 0 && strcmp(f->d_name, "..") != 0)
				rc = fn(r, e->d_name, f->d_name, arg);
		closedir(vd);
	}
	closedir(bd);
	return rc;
}

struct id_list {
	char **ids;
	size_t n, alloc;
};

static int list_one(struct repo *r, const char *vm, const char *name, void *arg)
{
	struct id_list *l = arg;
	size_t len = strlen(name);
	char *id;

	(void)r;
	if (len < 5 || name[0] == '.' || strcmp(name + len - 5, ".json") != 0)
		return 0;
	id = xasprintf("%s/%.*s", vm, (int)(len - 5), name);
	if (!manifest_id_valid(id)) {
		free(id);
		return 0;
	}
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 16;
		l->ids = xrealloc(l->ids, l->alloc * sizeof(*l->ids));
	}
	l->ids[l->n++] = id;
	return 0;
}

int repo_manifest_list(struct repo *r, char ***ids, size_t *n, struct buf *err)
{
	struct id_list l = { 0 };
	int rc = backups_scan(r, list_one, &l, err);

	if (rc < 0) {
		repo_ids_free(l.ids, l.n);
		*ids = NULL;
		*n = 0;
		return rc;
	}
	if (l.n)
		qsort(l.ids, l.n, sizeof(*l.ids), id_cmp);
	*ids = l.ids;
	*n = l.n;
	return 0;
}

void repo_ids_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* A container backup's manifest (backup/cttree.h): "files" instead of
 * "disks", each regular file's "chunks" listed as a disk's are. */
static int walk_ct_files(const json_t *m, repo_chunk_visit_fn fn, void *arg, struct buf *err)
{
	const json_t *files = json_object_get(m, "files"), *f, *chunks, *c;
	uint8_t d[REPO_DIGEST_LEN];
	size_t i, k;
	int rc;

	if (!json_is_array(files) || json_object_get(m, "disks")) {
		buf_adds(err, "a container backup's manifest has no \"files\" array, or has \"disks\"");
		return -EINVAL;
	}
	json_array_foreach(files, i, f) {
		if (!(chunks = json_object_get(f, "chunks")))
			continue;
		if (!json_is_array(chunks)) {
			buf_printf(err, "file entry %zu's \"chunks\" is not an array", i);
			return -EINVAL;
		}
		json_array_foreach(chunks, k, c) {
			if (json_is_null(c))
				continue;
			if (!json_is_string(c) || repo_digest_parse(json_string_value(c), d) < 0) {
				buf_printf(err, "chunk %zu of file entry %zu is neither null nor 64 hex characters", k, i);
				return -EINVAL;
			}
			if ((rc = fn(d, arg)) < 0)
				return rc;
		}
	}
	return 0;
}

int repo_manifest_walk(const json_t *m, repo_chunk_visit_fn fn, void *arg, struct buf *err)
{
	const json_t *disks = json_object_get(m, "disks"), *disk, *chunks, *c;
	size_t i, k;
	uint8_t d[REPO_DIGEST_LEN];
	int rc;

	if (json_is_string(json_object_get(m, "kind")) &&
	    strcmp(json_string_value(json_object_get(m, "kind")), "container") == 0)
		return walk_ct_files(m, fn, arg, err);
	if (!json_is_array(disks)) {
		buf_adds(err, "its \"disks\" is not an array");
		return -EINVAL;
	}
	json_array_foreach(disks, i, disk) {
		chunks = json_object_get(disk, "chunks");
		if (!json_is_array(chunks)) {
			buf_printf(err, "disk %zu has no \"chunks\" array", i);
			return -EINVAL;
		}
		json_array_foreach(chunks, k, c) {
			if (json_is_null(c))
				continue;
			if (!json_is_string(c) || repo_digest_parse(json_string_value(c), d) < 0) {
				buf_printf(err, "chunk %zu of disk %zu is neither null nor 64 hex characters", k, i);
				return -EINVAL;
			}
			rc = fn(d, arg);
			if (rc < 0)
				return rc;
		}
	}
	const json_t *nvram = json_object_get(m, "nvram"); /* a UEFI VM's vars (engine.c) */
	if (!nvram)
		return 0;
	if (!json_is_array(chunks = json_object_get(nvram, "chunks"))) {
		buf_adds(err, "its \"nvram\" has no \"chunks\" array");
		return -EINVAL;
	}
	json_array_foreach(chunks, k, c) {
		if (json_is_null(c))
			continue;
		if (!json_is_string(c) || repo_digest_parse(json_string_value(c), d) < 0) {
			buf_printf(err, "chunk %zu of the NVRAM vars is neither null nor 64 hex characters", k);
			return -EINVAL;
		}
		if ((rc = fn(d, arg)) < 0)
			return rc;
	}
	return 0;
}

/* ---- verify ---- */

struct chunk_ref {
	uint8_t d[REPO_DIGEST_LEN];
	uint32_t m;		/* index of the manifest */
};

struct ref_list {
	struct chunk_ref *v;
	size_t n, alloc;
	uint32_t cur;
};

static int ref_add(const uint8_t digest[REPO_DIGEST_LEN], void *arg)
{
	struct ref_list *l = arg;

	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 1024;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	memcpy(l->v[l->n].d, digest, REPO_DIGEST_LEN);
	l->v[l->n++].m = l->cur;
	return 0;
}

static int ref_cmp(const void *a, const void *b)
{
	const struct chunk_ref *x = a, *y = b;
	int c = memcmp(x->d, y->d, REPO_DIGEST_LEN);

	return c ? c : x->m < y->m ? -1 : x->m > y->m;
}

/* Read manifest ids[i] and add its chunk references (manifest index i). */
static int refs_collect(struct repo *r, const char *id, uint32_t idx, struct ref_list *l, struct buf *err)
{
	__do_json json_t *m = NULL;
	__do_buf struct buf why = BUF_INIT;
	int rc = repo_manifest_read(r, id, &m, err);

	if (rc < 0)
		return rc;
	l->cur = idx;
	rc = repo_manifest_walk(m, ref_add, l, &why);
	if (rc < 0)
		buf_printf(err, "the manifest of backup %s in repository %s is invalid: %s", id, r->path, why.s);
	return rc;
}

int repo_verify(struct repo *r, char *const *ids, size_t n_ids, repo_progress_cb cb, void *arg,
		const atomic_bool *cancel, struct repo_check_result *res, struct buf *err)
{
	char **all = NULL;
	size_t n_all = 0, uniq = 0, done = 0;
	struct ref_list l = { 0 };
	bool *bad;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	if (!ids) {
		rc = repo_manifest_list(r, &all, &n_all, err);
		if (rc < 0)
			return rc;
		ids = all;
		n_ids = n_all;
	}
	bad = xcalloc(n_ids ? n_ids : 1, sizeof(*bad));
	for (size_t i = 0; i < n_ids; i++) {
		__do_buf struct buf merr = BUF_INIT;
		size_t before = l.n;
		if (refs_collect(r, ids[i], (uint32_t)i, &l, &merr) < 0) {
			/* an unreadable manifest is a damaged backup, not a reason to stop */
			l.n = before;
			bad[i] = true;
		}
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), ref_cmp);
	for (size_t i = 0; i < l.n; i++)
		uniq += i == 0 || memcmp(l.v[i].d, l.v[i - 1].d, REPO_DIGEST_LEN) != 0;
	if (cb)
		cb(0, uniq, arg);
	for (size_t i = 0; i < l.n;) {
		__do_buf struct buf data = BUF_INIT, cerr = BUF_INIT;
		size_t j = i;
		if (repo_cancel_requested(cancel)) {
			buf_printf(err, "verifying backup repository %s was cancelled after %" PRIu64 " of %zu chunks",
				   r->path, res->chunks_checked, uniq);
			rc = -ECANCELED;
			break;
		}
		int crc = repo_chunk_get(r, l.v[i].d, &data, &cerr);

		while (j < l.n && memcmp(l.v[j].d, l.v[i].d, REPO_DIGEST_LEN) == 0)
			j++;
		res->chunks_checked++;
		if (crc == 0) {
			res->bytes_checked += data.len;
		} else if (crc == -ENOENT || crc == -EBADMSG || crc == -EPROTONOSUPPORT) {
			if (crc == -ENOENT)
				res->chunks_missing++;
			else
				res->chunks_bad++;
			for (size_t k = i; k < j; k++)
				bad[l.v[k].m] = true;
		} else {
			buf_adds(err, cerr.s);
			rc = crc;
			break;
		}
		i = j;
		if (cb)
			cb(++done, uniq, arg);
	}
	for (size_t i = 0; rc == 0 && i < n_ids; i++)
		if (bad[i]) {
			res->bad_backups = xrealloc(res->bad_backups, (res->n_bad_backups + 1) * sizeof(char *));
			res->bad_backups[res->n_bad_backups++] = xstrdup(ids[i]);
		}
	free(bad);
	free(l.v);
	repo_ids_free(all, n_all);
	if (rc < 0)
		repo_check_result_release(res);
	return rc;
}

void repo_check_result_release(struct repo_check_result *res)
{
	repo_ids_free(res->bad_backups, res->n_bad_backups);
	memset(res, 0, sizeof(*res));
}

/* ---- sweep ---- */

static int digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, REPO_DIGEST_LEN);
}

static int sweep_fanout(struct repo *r, int idx, const struct chunk_ref *keep, size_t n_keep,
			const atomic_bool *cancel, uint64_t *chunks, uint64_t *bytes, struct buf *err)
{
	char rel[16];
	int dfd;
	DIR *d;
	struct dirent *e;
	uint8_t digest[REPO_DIGEST_LEN];

	snprintf(rel, sizeof(rel), "chunks/%02x", idx);
	dfd = openat(r->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : io_error(r, "sweep chunks", -errno, err);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return io_error(r, "sweep chunks", -ENOMEM, err);
	}
	while ((e = readdir(d))) {
		struct stat st;
		if (repo_digest_parse(e->d_name, digest) < 0 || digest[0] != idx)
			continue;
		if (n_keep && bsearch(digest, keep, n_keep, sizeof(*keep), digest_cmp))
			continue;
		if (repo_cancel_requested(cancel)) {
			closedir(d);
			buf_printf(err, "pruning backup repository %s was cancelled after freeing %" PRIu64 " chunks",
				   r->path, *chunks);
			return -ECANCELED;
		}
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || unlinkat(dfd, e->d_name, 0) < 0) {
			int rc = -errno;
			if (rc == -ENOENT)
				continue;
			closedir(d);
			return io_error(r, "delete an unused chunk", rc, err);
		}
		(*chunks)++;
		*bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	return 0;
}

static int sweep_reservation(struct repo *r, const char *vm, const char *name, void *arg)
{
	size_t len = strlen(name);
	char rel[ID_MAX + 16];

	(void)arg;
	if (name[0] != '.' || len < 10 || strcmp(name + len - 9, ".reserved") != 0)
		return 0;
	snprintf(rel, sizeof(rel), "backups/%s/%s", vm, name);
	unlinkat(r->dirfd, rel, 0);
	return 0;
}

static int sweep_tmp(struct repo *r, struct buf *err)
{
	int dfd = openat(r->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *e;

	if (dfd < 0)
		return io_error(r, "clean up temporary files", -errno, err);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return io_error(r, "clean up temporary files", -ENOMEM, err);
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dfd, e->d_name, 0);
	closedir(d);
	return 0;
}

int repo_sweep(struct repo *r, const atomic_bool *cancel, uint64_t *chunks_freed, uint64_t *bytes_freed,
	       struct buf *err)
{
	char **ids = NULL;
	size_t n = 0, k = 0;
	struct ref_list l = { 0 };
	bool locked_here = false;
	__do_buf struct buf merr = BUF_INIT;
	int rc;

	*chunks_freed = *bytes_freed = 0;
	if (r->lock_mode == LOCK_SHARED) {
		buf_printf(err, "cannot sweep backup repository %s while holding its shared lock", r->path);
		return -EBUSY;
	}
	if (r->lock_mode != LOCK_EXCL) {
		rc = repo_lock(r, true, false, err);
		if (rc < 0)
			return rc;
		locked_here = true;
	}
	rc = repo_manifest_list(r, &ids, &n, err);
	if (rc < 0)
		goto out;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = refs_collect(r, ids[i], (uint32_t)i, &l, &merr);
	if (rc < 0) {
		/* never delete a chunk an unreadable backup might need */
		buf_printf(err, "not sweeping: %s", merr.s);
		goto out;
	}
	/* keep: the distinct referenced digests, sorted (chunk_ref starts with the digest) */
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), ref_cmp);
	for (size_t i = 0; i < l.n; i++)
		if (k == 0 || memcmp(l.v[i].d, l.v[k - 1].d, REPO_DIGEST_LEN) != 0)
			l.v[k++] = l.v[i];
	for (int i = 0; rc == 0 && i < 256; i++)
		rc = sweep_fanout(r, i, l.v, k, cancel, chunks_freed, bytes_freed, err);
	if (rc == 0)
		rc = sweep_tmp(r, err);
	if (rc == 0)
		rc = backups_scan(r, sweep_reservation, NULL, err);
	if (rc == 0 && syncfs(r->dirfd) < 0)
		rc = io_error(r, "sweep", -errno, err);
out:
	free(l.v);
	repo_ids_free(ids, n);
	if (locked_here)
		repo_unlock(r);
	return rc;
}
