/*
 * test_repo.c - the backup repository (src/backup/repo.h) on real files.
 *
 * Each test gets a fresh temp directory with the repository in <dir>/repo
 * and key files beside it.  Covered: plain and encrypted round trips,
 * deduplication, wrong passphrase and foreign key files, several threads and
 * two processes storing the same chunks at once, damaged chunks found by get
 * and by verify (naming the affected backup), manifest ids, atomicity and
 * listing, sweep, locking, hostile config files, and a full disk (a small
 * tmpfs, skipped when mounting is not allowed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup/repo.h"
#include "util/fsutil.h"
#include "util/common.h"

#define CHUNK (64u << 10)
#define PASS "correct horse battery staple"

struct fix {
	char dir[64];
	char *repo;	/* <dir>/repo */
	char *key;	/* <dir>/key */
	char *mnt;	/* tmpfs mounted by a test, or NULL */
};

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fix *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_repo.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->repo = xasprintf("%s/repo", f->dir);
	f->key = xasprintf("%s/key", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	if (f->mnt) {
		umount2(f->mnt, MNT_DETACH);
		free(f->mnt);
	}
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f->repo);
	free(f->key);
	free(f);
	return 0;
}

/* Deterministic chunk content: seed selects it, never all zero. */
static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (i % 7) ? (uint8_t)x : (uint8_t)('a' + seed % 26);
	}
}

static void expect_err(int rc, int want, struct buf *err, const char *needle)
{
	if (rc != want || !strstr(err->s, needle))
		fail_msg("got %d '%s', want %d with '%s'", rc, err->s, want, needle);
	buf_reset(err);
}

static struct repo *make_repo(struct fix *f, bool encrypt)
{
	struct repo_create_opts o = { .chunk_size = CHUNK, .encrypt = encrypt, .keyfile = f->key, .passphrase = PASS };
	struct buf err = BUF_INIT;
	struct repo *r = NULL;

	if (repo_create(f->repo, &o, &err) < 0 || repo_open(f->repo, f->key, PASS, &r, &err) < 0)
		fail_msg("%s", err.s);
	buf_release(&err);
	return r;
}

static void put_ok(struct repo *r, const void *data, size_t len, uint8_t digest[REPO_DIGEST_LEN], bool want_new)
{
	struct buf err = BUF_INIT;
	bool is_new;
	uint64_t stored;

	if (repo_chunk_put(r, data, len, digest, &is_new, &stored, &err) < 0)
		fail_msg("%s", err.s);
	assert_int_equal(is_new, want_new);
	assert_true(want_new ? stored > 0 : stored == 0);
	buf_release(&err);
}

static void get_ok(struct repo *r, const uint8_t digest[REPO_DIGEST_LEN], const void *data, size_t len)
{
	struct buf out = BUF_INIT, err = BUF_INIT;

	if (repo_chunk_get(r, digest, &out, &err) < 0)
		fail_msg("%s", err.s);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.s, data, len);
	buf_release(&out);
	buf_release(&err);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || (e->d_name[1] && strcmp(e->d_name, ".."));
	closedir(d);
	return n;
}

static char *chunk_file(struct fix *f, const uint8_t digest[REPO_DIGEST_LEN])
{
	char hex[2 * REPO_DIGEST_LEN + 1];

	repo_digest_hex(digest, hex);
	return xasprintf("%s/chunks/%.2s/%s", f->repo, hex, hex);
}

/* A manifest in the repository's convention: one disk with these chunks. */
static json_t *manifest_of(const uint8_t (*d)[REPO_DIGEST_LEN], size_t n)
{
	json_t *chunks = json_array();
	char hex[2 * REPO_DIGEST_LEN + 1];

	for (size_t i = 0; i < n; i++) {
		repo_digest_hex(d[i], hex);
		json_array_append_new(chunks, json_string(hex));
	}
	json_array_append_new(chunks, json_null());
	return json_pack("{s:s, s:[{s:s, s:o}]}", "vm", "web", "disks", "name", "vda", "chunks", chunks);
}

static char *write_manifest(struct repo *r, const char *vm, int64_t t, json_t *m)
{
	struct buf err = BUF_INIT;
	char *id = NULL;

	if (repo_manifest_new_id(r, vm, t, &id, &err) < 0 || repo_manifest_write(r, id, m, &err) < 0)
		fail_msg("%s", err.s);
	json_decref(m);
	buf_release(&err);
	return id;
}

static void test_plain_roundtrip(void **state)
{
	struct fix *f = *state;
	struct repo *r = make_repo(f, false);
	uint8_t *a = xmalloc(CHUNK), d[REPO_DIGEST_LEN], d2[REPO_DIGEST_LEN];
	struct buf err = BUF_INIT;
	__do_free char *path = NULL, *tmp = xasprintf("%s/tmp", f->repo);
	struct stat st;

	assert_string_equal(repo_path(r), f->repo);
	assert_int_equal(repo_chunk_size(r), CHUNK);
	assert_false(repo_encrypted(r));
	assert_int_equal(strlen(repo_id(r)), 32);
	fill(a, CHUNK, 1);
	put_ok(r, a, CHUNK, d, true);
	put_ok(r, a, CHUNK, d2, false);
	assert_memory_equal(d, d2, sizeof(d));
	assert_true(repo_chunk_exists(r, d));
	get_ok(r, d, a, CHUNK);
	path = chunk_file(f, d);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < CHUNK); /* compressed */
	/* a chunk file emptied by a power loss before flush is written again */
	assert_int_equal(truncate(path, 0), 0);
	assert_false(repo_chunk_exists(r, d));
	put_ok(r, a, CHUNK, d2, true);
	get_ok(r, d, a, CHUNK);
	/* a short chunk and an empty one */
	put_ok(r, a, 1000, d2, true);
	get_ok(r, d2, a, 1000);
	put_ok(r, a, 0, d2, true);
	get_ok(r, d2, a, 0);
	/* too big */
	uint8_t *big = xcalloc(1, CHUNK + 1);
	expect_err(repo_chunk_put(r, big, CHUNK + 1, d2, &(bool){ 0 }, &(uint64_t){ 0 }, &err), -EINVAL, &err,
		   "chunk size");
	free(big);
	/* unknown chunk */
	memset(d2, 0x42, sizeof(d2));
	assert_false(repo_chunk_exists(r, d2));
	struct buf out = BUF_INIT;
	expect_err(repo_chunk_get(r, d2, &out, &err), -ENOENT, &err, "is missing from backup repository");
	assert_int_equal(out.len, 0);
	assert_int_equal(repo_flush(r, &err), 0);
	assert_int_equal(count_files(tmp), 0);
	/* the repository moved away under us (like a lazily unmounted share) */
	__do_free char *moved = xasprintf("%s.moved", f->repo);
	assert_int_equal(rename(f->repo, moved), 0);
	expect_err(repo_flush(r, &err), -ENOENT, &err, "has gone away");
	assert_int_equal(mkdir(f->repo, 0700), 0);
	expect_err(repo_flush(r, &err), -ESTALE, &err, "no longer the directory that was opened");
	json_t *m = json_pack("{s:[]}", "disks");
	expect_err(repo_manifest_write(r, "web/20231114T221320Z", m, &err), -ESTALE, &err, f->repo);
	json_decref(m);
	assert_int_equal(rmdir(f->repo), 0);
	assert_int_equal(rename(moved, f->repo), 0);
	/* digest helpers */
	char hex[65];
	repo_digest_hex(d, hex);
	assert_int_equal(repo_digest_parse(hex, d2), 0);
	assert_memory_equal(d, d2, sizeof(d));
	assert_int_equal(repo_digest_parse("abc", d2), -EINVAL);
	repo_close(r);
	free(a);
	buf_release(&err);
}

static void test_create_refuses(void **state)
{
	struct fix *f = *state;
	struct repo_create_opts o = { 0 };
	struct buf err = BUF_INIT;
	__do_free char *junk = xasprintf("%s/junk", f->repo);

	o.chunk_size = 1000;
	expect_err(repo_create(f->repo, &o, &err), -EINVAL, &err, "power of two");
	o.chunk_size = 0;
	o.encrypt = true;
	expect_err(repo_create(f->repo, &o, &err), -EINVAL, &err, "passphrase");
	o.encrypt = false;
	assert_int_equal(fs_mkdir_p(f->repo, 0700), 0);
	assert_int_equal(fs_write_file_atomic(junk, "x", 1, 0600), 0);
	expect_err(repo_create(f->repo, &o, &err), -EEXIST, &err, "not empty");
	/* an existing key file is never replaced */
	unlink(junk);
	assert_int_equal(fs_write_file_atomic(f->key, "precious", 8, 0600), 0);
	o = (struct repo_create_opts){ .encrypt = true, .keyfile = f->key, .passphrase = PASS };
	expect_err(repo_create(f->repo, &o, &err), -EEXIST, &err, "already exists");
	assert_int_equal(count_files(f->repo), 0); /* nothing half-made left */
	struct buf k = BUF_INIT;
	assert_int_equal(fs_read_file(f->key, 100, &k), 0);
	assert_string_equal(k.s, "precious");
	buf_release(&k);
	buf_release(&err);
}

static void test_encrypted(void **state)
{
	struct fix *f = *state;
	struct repo *r = make_repo(f, true), *r2 = NULL;
	struct repo_create_opts o = { .encrypt = true, .passphrase = PASS };
	uint8_t *a = xmalloc(CHUNK), d[REPO_DIGEST_LEN], plain_id[REPO_DIGEST_LEN];
	struct buf err = BUF_INIT, file = BUF_INIT;
	__do_free char *path = NULL, *other = xasprintf("%s/other", f->dir),
		       *otherkey = xasprintf("%s/otherkey", f->dir), *id = NULL;

	assert_true(repo_encrypted(r));
	memset(a, 'x', CHUNK); /* very compressible and recognisable */
	put_ok(r, a, CHUNK, d, true);
	get_ok(r, d, a, CHUNK);
	/* the id is keyed: not the plain SHA-256 of the content */
	struct repo_create_opts po = { .chunk_size = CHUNK };
	struct repo *p = NULL;
	__do_free char *plain = xasprintf("%s/plain", f->dir);
	assert_int_equal(repo_create(plain, &po, &err), 0);
	assert_int_equal(repo_open(plain, NULL, NULL, &p, &err), 0);
	put_ok(p, a, CHUNK, plain_id, true);
	assert_memory_not_equal(d, plain_id, sizeof(d));
	repo_close(p);
	/* no plaintext on disk */
	path = chunk_file(f, d);
	assert_int_equal(fs_read_file(path, 1 << 24, &file), 0);
	assert_null(memmem(file.s, file.len, "xxxxxxxx", 8));
	/* manifests are sealed too */
	json_t *m = manifest_of((const uint8_t (*)[REPO_DIGEST_LEN])d, 1);
	json_object_set_new(m, "secret", json_string("TOPSECRETNAME"));
	id = write_manifest(r, "web", 1700000000, m);
	__do_free char *mpath = xasprintf("%s/backups/%s.json", f->repo, id);
	buf_reset(&file);
	assert_int_equal(fs_read_file(mpath, 1 << 20, &file), 0);
	assert_null(memmem(file.s, file.len, "TOPSECRET", 9));
	json_t *back = NULL;
	assert_int_equal(repo_manifest_read(r, id, &back, &err), 0);
	assert_string_equal(json_string_value(json_object_get(back, "secret")), "TOPSECRETNAME");
	json_decref(back);
	/* a sealed manifest moved to another backup's name does not authenticate */
	__do_free char *moved = xasprintf("%s/backups/web/20231114T221321Z.json", f->repo);
	assert_int_equal(link(mpath, moved), 0);
	expect_err(repo_manifest_read(r, "web/20231114T221321Z", &back, &err), -EBADMSG, &err, "is damaged");
	assert_null(back);
	unlink(moved);
	repo_close(r);

	/* reopen with the right key */
	assert_int_equal(repo_open(f->repo, f->key, PASS, &r, &err), 0);
	get_ok(r, d, a, CHUNK);
	repo_close(r);
	/* wrong passphrase */
	expect_err(repo_open(f->repo, f->key, "wrong", &r, &err), -EACCES, &err,
		   "wrong passphrase or key file for repository");
	assert_null(r);
	/* no key */
	expect_err(repo_open(f->repo, NULL, NULL, &r, &err), -EACCES, &err, "is encrypted");
	/* the key of another repository */
	o.keyfile = otherkey;
	assert_int_equal(repo_create(other, &o, &err), 0);
	expect_err(repo_open(f->repo, otherkey, PASS, &r, &err), -EACCES, &err, "belongs to another repository");
	/* another repository's key relabelled with our id still fails */
	struct buf k = BUF_INIT;
	assert_int_equal(fs_read_file(otherkey, 8192, &k), 0);
	json_t *kj = json_loads(k.s, 0, NULL);
	assert_non_null(repo_open(other, otherkey, PASS, &r2, &err) == 0 ? r2 : NULL);
	json_object_set_new(kj, "repo_id", json_string(repo_id(r2)));
	repo_close(r2);
	assert_int_equal(repo_open(f->repo, f->key, PASS, &r, &err), 0);
	json_object_set_new(kj, "repo_id", json_string(repo_id(r)));
	repo_close(r);
	char *ks = json_dumps(kj, 0);
	unlink(otherkey);
	assert_int_equal(fs_write_file_atomic(otherkey, ks, strlen(ks), 0600), 0);
	expect_err(repo_open(f->repo, otherkey, PASS, &r, &err), -EACCES, &err, "wrong passphrase or key file");
	free(ks);
	json_decref(kj);
	/* a damaged key file */
	assert_int_equal(fs_write_file_atomic(otherkey, "{\"format\":1}", 12, 0600), 0);
	expect_err(repo_open(f->repo, otherkey, PASS, &r, &err), -EINVAL, &err, "is not usable");
	buf_release(&k);
	buf_release(&file);
	buf_release(&err);
	free(a);
}

struct worker {
	struct repo *r;
	int first, count;
	uint8_t (*digests)[REPO_DIGEST_LEN];
	int failures;
};

static void *put_worker(void *arg)
{
	struct worker *w = arg;
	uint8_t *a = xmalloc(CHUNK);
	struct buf err = BUF_INIT;

	for (int i = 0; i < w->count; i++) {
		bool is_new;
		uint64_t stored;
		fill(a, CHUNK, (uint32_t)(w->first + i));
		if (repo_chunk_put(w->r, a, CHUNK, w->digests[i], &is_new, &stored, &err) < 0)
			w->failures++;
	}
	free(a);
	buf_release(&err);
	return NULL;
}

static int count_chunks(struct fix *f)
{
	int n = 0;

	for (int i = 0; i < 256; i++) {
		__do_free char *d = xasprintf("%s/chunks/%02x", f->repo, i);
		n += count_files(d);
	}
	return n;
}

static void test_threads(void **state)
{
	struct fix *f = *state;
	struct repo *r = make_repo(f, true);
	struct worker w[4];
	pthread_t t[4];
	uint8_t dg[4][40][REPO_DIGEST_LEN];
	uint8_t *a = xmalloc(CHUNK);
	__do_free char *tmp = xasprintf("%s/tmp", f->repo);

	/* overlapping ranges: seeds 0..39, 20..59, 40..79, 0..39 */
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .r = r, .first = (i % 3) * 20, .count = 40, .digests = dg[i] };
		assert_int_equal(pthread_create(&t[i], NULL, put_worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(count_chunks(f), 80);
	assert_int_equal(count_files(tmp), 0);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 40; k++) {
			fill(a, CHUNK, (uint32_t)(w[i].first + k));
			get_ok(r, dg[i][k], a, CHUNK);
		}
	free(a);
	repo_close(r);
}

static void test_two_processes(void **state)
{
	struct fix *f = *state;
	struct repo *r = make_repo(f, false);
	uint8_t *a = xmalloc(CHUNK), d[REPO_DIGEST_LEN];
	__do_free char *tmp = xasprintf("%s/tmp", f->repo);
	pid_t pids[2];

	repo_close(r);
	for (int p = 0; p < 2; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct buf err = BUF_INIT;
			struct repo *cr = NULL;
			int bad = repo_open(f->repo, NULL, NULL, &cr, &err) < 0;
			for (int i = 0; !bad && i < 60; i++) {
				bool is_new;
				uint64_t stored;
				fill(a, CHUNK, (uint32_t)i);
				bad = repo_chunk_put(cr, a, CHUNK, d, &is_new, &stored, &err) < 0;
			}
			_exit(bad);
		}
	}
	for (int p = 0; p < 2; p++) {
		int status;
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	r = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(repo_open(f->repo, NULL, NULL, &r, &err), 0);
	assert_int_equal(count_chunks(f), 60);
	assert_int_equal(count_files(tmp), 0);
	for (int i = 0; i < 60; i++) {
		bool is_new;
		uint64_t stored;
		fill(a, CHUNK, (uint32_t)i);
		assert_int_equal(repo_chunk_put(r, a, CHUNK, d, &is_new, &stored, &err), 0);
		assert_false(is_new);
		get_ok(r, d, a, CHUNK);
	}
	repo_close(r);
	free(a);
}

static void flip_byte(const char *path, long off)
{
	int fd = open(path, O_RDWR);
	uint8_t c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x10;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static uint64_t last_done, last_total;
static void record_progress(uint64_t done, uint64_t total, void *arg)
{
	(void)arg;
	assert_true(done <= total);
	last_done = done;
	last_total = total;
}

/* A verify cancelled once it has checked one chunk. */
static atomic_bool verify_stop;
static void stop_after_one(uint64_t done, uint64_t total, void *arg)
{
	record_progress(done, total, arg);
	if (done == 1)
		atomic_store(&verify_stop, true);
}

static void damage_test(struct fix *f, bool encrypt)
{
	struct repo *r = make_repo(f, encrypt);
	uint8_t *a = xmalloc(CHUNK), d[3][REPO_DIGEST_LEN];
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct repo_check_result res;
	__do_free char *id1 = NULL, *id2 = NULL, *pc = NULL, *pa = NULL;
	struct stat st;

	for (int i = 0; i < 3; i++) {
		fill(a, CHUNK, (uint32_t)(100 + i));
		put_ok(r, a, CHUNK, d[i], true);
	}
	id1 = write_manifest(r, "db", 1700000000, manifest_of(d, 2));		/* A, B */
	id2 = write_manifest(r, "web", 1700000000, manifest_of(d + 1, 2));	/* B, C */
	assert_int_equal(repo_verify(r, NULL, 0, record_progress, NULL, NULL, &res, &err), 0);
	assert_int_equal(last_done, 3); /* B is shared and read once */
	assert_int_equal(last_total, 3);
	assert_int_equal(res.chunks_checked, 3);
	assert_int_equal(res.chunks_bad + res.chunks_missing + res.n_bad_backups, 0);
	assert_int_equal(res.bytes_checked, 3 * CHUNK);
	repo_check_result_release(&res);
	/* cancelled after the first chunk: stops there */
	atomic_store(&verify_stop, false);
	expect_err(repo_verify(r, NULL, 0, stop_after_one, NULL, &verify_stop, &res, &err), -ECANCELED, &err,
		   "cancelled after 1 of 3 chunks");
	assert_int_equal(last_done, 1);
	assert_int_equal(res.chunks_checked + res.n_bad_backups, 0);

	/* a bit flip in the middle of C */
	pc = chunk_file(f, d[2]);
	assert_int_equal(stat(pc, &st), 0);
	flip_byte(pc, st.st_size / 2);
	expect_err(repo_chunk_get(r, d[2], &out, &err), -EBADMSG, &err, "is damaged");
	assert_int_equal(out.len, 0);
	assert_int_equal(repo_verify(r, NULL, 0, NULL, NULL, NULL, &res, &err), 0);
	assert_int_equal(res.chunks_checked, 3);
	assert_int_equal(res.chunks_bad, 1);
	assert_int_equal(res.n_bad_backups, 1);
	assert_string_equal(res.bad_backups[0], id2);
	repo_check_result_release(&res);

	/* A truncated: only the db backup's chunk */
	pa = chunk_file(f, d[0]);
	assert_int_equal(stat(pa, &st), 0);
	assert_int_equal(truncate(pa, st.st_size - 3), 0);
	expect_err(repo_chunk_get(r, d[0], &out, &err), -EBADMSG, &err, "is damaged");
	char *only[] = { id1 };
	assert_int_equal(repo_verify(r, only, 1, NULL, NULL, NULL, &res, &err), 0);
	assert_int_equal(res.chunks_checked, 2);
	assert_int_equal(res.chunks_bad, 1);
	assert_int_equal(res.n_bad_backups, 1);
	assert_string_equal(res.bad_backups[0], id1);
	repo_check_result_release(&res);

	/* a missing chunk */
	unlink(pa);
	expect_err(repo_chunk_get(r, d[0], &out, &err), -ENOENT, &err, "missing");
	assert_int_equal(repo_verify(r, NULL, 0, NULL, NULL, NULL, &res, &err), 0);
	assert_int_equal(res.chunks_missing, 1);
	assert_int_equal(res.chunks_bad, 1);
	assert_int_equal(res.n_bad_backups, 2);
	repo_check_result_release(&res);

	/* a symlink planted in place of a chunk is not followed */
	assert_int_equal(symlink("/etc/passwd", pa), 0);
	expect_err(repo_chunk_get(r, d[0], &out, &err), -EBADMSG, &err, "is damaged");
	unlink(pa);

	/* a chunk file renamed to another chunk's name */
	__do_free char *pb = chunk_file(f, d[1]);
	rename(pb, pc);
	expect_err(repo_chunk_get(r, d[2], &out, &err), -EBADMSG, &err, "is damaged");
	repo_close(r);
	free(a);
	buf_release(&out);
	buf_release(&err);
}

static void test_damage_plain(void **state) { damage_test(*state, false); }
static void test_damage_encrypted(void **state) { damage_test(*state, true); }

static int progress_calls;
static void progress(uint64_t done, uint64_t total, void *arg)
{
	(void)arg;
	assert_true(done <= total);
	progress_calls++;
}

static void test_manifests(void **state)
{
	struct fix *f = *state;
	struct repo *r = make_repo(f, false);
	struct buf err = BUF_INIT;
	char *a = NULL, *b = NULL, **ids = NULL;
	size_t n;
	json_t *m = NULL;
	__do_free char *tmp = xasprintf("%s/tmp", f->repo);

	/* 2023-11-14T22:13:20Z */
	assert_int_equal(repo_manifest_new_id(r, "web", 1700000000, &a, &err), 0);
	assert_string_equal(a, "web/20231114T221320Z");
	assert_int_equal(repo_manifest_new_id(r, "web", 1700000000, &b, &err), 0);
	assert_string_equal(b, "web/20231114T221320Z-1");
	/* reserved but unwritten ids are not backups */
	assert_int_equal(repo_manifest_list(r, &ids, &n, &err), 0);
	assert_int_equal(n, 0);
	repo_ids_free(ids, n);
	json_t *mb = json_pack("{s:[]}", "disks");
	assert_int_equal(repo_manifest_write(r, b, mb, &err), 0);
	json_decref(mb);
	free(write_manifest(r, "db", 1600000000, json_pack("{s:[]}", "disks")));
	free(write_manifest(r, "web", 1500000000, json_pack("{s:[]}", "disks")));
	assert_int_equal(repo_manifest_list(r, &ids, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ids[0], "db/20200913T122640Z");
	assert_string_equal(ids[1], "web/20170714T024000Z");
	assert_string_equal(ids[2], "web/20231114T221320Z-1");
	repo_ids_free(ids, n);
	assert_int_equal(repo_manifest_read(r, b, &m, &err), 0);
	assert_true(json_is_array(json_object_get(m, "disks")));
	json_decref(m);
	/* the one id still reserved; a new one skips it and the written one */
	char *c = NULL;
	assert_int_equal(repo_manifest_new_id(r, "web", 1700000000, &c, &err), 0);
	assert_string_equal(c, "web/20231114T221320Z-2");
	free(c);
	assert_int_equal(count_files(tmp), 0);
	/* bad ids */
	expect_err(repo_manifest_read(r, "../../etc/passwd", &m, &err), -EINVAL, &err, "not a valid backup id");
	expect_err(repo_manifest_read(r, "web/2023", &m, &err), -EINVAL, &err, "not a valid backup id");
	expect_err(repo_manifest_new_id(r, "../x", 1, &c, &err), -EINVAL, &err, "invalid VM name");
	expect_err(repo_manifest_read(r, "web/20231114T221321Z", &m, &err), -ENOENT, &err, "does not exist");
	/* a damaged manifest is listed; reading it says so */
	__do_free char *mpath = xasprintf("%s/backups/%s.json", f->repo, b);
	assert_int_equal(fs_write_file_atomic(mpath, "{\"disks\":", 9, 0600), 0);
	expect_err(repo_manifest_read(r, b, &m, &err), -EBADMSG, &err, "is damaged");
	struct repo_check_result res;
	progress_calls = 0;
	assert_int_equal(repo_verify(r, NULL, 0, progress, NULL, NULL, &res, &err), 0);
	assert_int_equal(res.n_bad_backups, 1);
	assert_string_equal(res.bad_backups[0], b);
	assert_true(progress_calls >= 1);
	repo_check_result_release(&res);
	/* delete */
	assert_int_equal(repo_manifest_delete(r, b, &err), 0);
	expect_err(repo_manifest_delete(r, b, &err), -ENOENT, &err, "does not exist");
	assert_int_equal(repo_manifest_list(r, &ids, &n, &err), 0);
	assert_int_equal(n, 2);
	repo_ids_free(ids, n);
	free(a);
	free(b);
	repo_close(r);
	buf_release(&err);
}

/* Two processes (as two hosts would) naming backups of one VM in the same second. */
static void test_ids_two_processes(void **state)
{
	struct fix *f = *state;
	struct repo *r = make_repo(f, false);
	struct buf err = BUF_INIT;
	char **ids = NULL;
	size_t n;
	pid_t pids[2];

	repo_close(r);
	for (int p = 0; p < 2; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct repo *cr = NULL;
			int bad = repo_open(f->repo, NULL, NULL, &cr, &err) < 0;
			for (int i = 0; !bad && i < 20; i++) {
				char *id = NULL;
				json_t *m = json_pack("{s:[], s:i}", "disks", "writer", p);
				bad = repo_manifest_new_id(cr, "web", 1700000000, &id, &err) < 0 ||
				      repo_manifest_write(cr, id, m, &err) < 0;
				json_decref(m);
				free(id);
			}
			_exit(bad);
		}
	}
	for (int p = 0; p < 2; p++) {
		int status;
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(repo_open(f->repo, NULL, NULL, &r, &err), 0);
	assert_int_equal(repo_manifest_list(r, &ids, &n, &err), 0);
	assert_int_equal(n, 40); /* distinct ids: nobody overwrote anybody */
	assert_string_equal(ids[0], "web/20231114T221320Z");
	assert_string_equal(ids[39], "web/20231114T221320Z-39");
	repo_ids_free(ids, n);
	repo_close(r);
	buf_release(&err);
}

static void test_sweep(void **state)
{
	struct fix *f = *state;
	struct repo *r = make_repo(f, true), *r2 = NULL;
	uint8_t *a = xmalloc(CHUNK), d[4][REPO_DIGEST_LEN];
	struct buf err = BUF_INIT;
	uint64_t chunks, bytes;
	__do_free char *id = NULL, *gone = NULL, *stale = xasprintf("%s/tmp/otherhost.1.1.1.tmp", f->repo);

	for (int i = 0; i < 4; i++) {
		fill(a, CHUNK, (uint32_t)(200 + i));
		put_ok(r, a, CHUNK, d[i], true);
	}
	id = write_manifest(r, "web", 1700000000, manifest_of(d, 2));
	gone = write_manifest(r, "web", 1700000001, manifest_of(d + 1, 2));
	assert_int_equal(fs_write_file_atomic(stale, "junk", 4, 0600), 0);
	/* an exclusive lock is refused while someone holds it shared */
	assert_int_equal(repo_open(f->repo, f->key, PASS, &r2, &err), 0);
	assert_int_equal(repo_lock(r2, false, false, &err), 0);
	expect_err(repo_sweep(r, NULL, &chunks, &bytes, &err), -EAGAIN, &err, "is in use");
	expect_err(repo_lock(r, true, false, &err), -EAGAIN, &err, "is in use");
	repo_unlock(r2);
	repo_close(r2);

	assert_int_equal(repo_manifest_delete(r, gone, &err), 0);
	assert_int_equal(repo_lock(r, true, true, &err), 0);
	/* cancelled: it stops before deleting anything */
	atomic_bool stop = true;
	expect_err(repo_sweep(r, &stop, &chunks, &bytes, &err), -ECANCELED, &err, "cancelled after freeing 0 chunks");
	assert_int_equal(chunks, 0);
	assert_true(repo_chunk_exists(r, d[2]));
	assert_true(repo_chunk_exists(r, d[3]));
	assert_int_equal(repo_sweep(r, NULL, &chunks, &bytes, &err), 0);
	assert_int_equal(chunks, 2);
	assert_true(bytes > 0);
	assert_false(repo_chunk_exists(r, d[2]));
	assert_false(repo_chunk_exists(r, d[3]));
	for (int i = 0; i < 2; i++) {
		fill(a, CHUNK, (uint32_t)(200 + i));
		get_ok(r, d[i], a, CHUNK);
	}
	assert_int_equal(access(stale, F_OK), -1);
	/* an unreadable manifest stops the sweep before anything is deleted */
	__do_free char *mpath = xasprintf("%s/backups/%s.json", f->repo, id);
	flip_byte(mpath, 20);
	put_ok(r, a, 100, d[3], true);
	expect_err(repo_sweep(r, NULL, &chunks, &bytes, &err), -EBADMSG, &err, "not sweeping");
	assert_int_equal(chunks, 0);
	assert_true(repo_chunk_exists(r, d[3]));
	assert_true(repo_chunk_exists(r, d[0]));
	repo_unlock(r);
	repo_close(r);
	free(a);
	buf_release(&err);
}

static void write_config(struct fix *f, const char *text)
{
	__do_free char *p = xasprintf("%s/corral-repo.json", f->repo);

	assert_int_equal(fs_write_file_atomic(p, text, strlen(text), 0600), 0);
}

static void test_hostile_config(void **state)
{
	struct fix *f = *state;
	struct repo *r = make_repo(f, false);
	struct buf err = BUF_INIT;
	static const struct {
		const char *text, *needle;
		int rc;
	} cases[] = {
		{ "", "not a JSON object", -EINVAL },
		{ "[1,2]", "not a JSON object", -EINVAL },
		{ "{\"format\":\"restic\"}", "does not describe a corral backup repository", -EINVAL },
		{ "{\"format\":\"corral-backup-repository\",\"version\":7,\"id\":\"x\"}", "created by a newer corral",
		  -EPROTONOSUPPORT },
		{ "{\"format\":\"corral-backup-repository\"}", "no 'version'", -EINVAL },
		{ "{\"format\":\"corral-backup-repository\",\"version\":1,\"id\":\"00000000000000000000000000000000\","
		  "\"chunk_size\":1048576,\"compression\":\"zstd\",\"encryption\":\"none\",\"evil\":1}",
		  "evil", -EINVAL },
		{ "{\"format\":\"corral-backup-repository\",\"version\":1,\"id\":\"../../../../etc/passwd0000000\","
		  "\"chunk_size\":1048576,\"compression\":\"zstd\",\"encryption\":\"none\"}",
		  "'id'", -EINVAL },
		{ "{\"format\":\"corral-backup-repository\",\"version\":1,\"id\":\"00000000000000000000000000000000\","
		  "\"chunk_size\":1048577,\"compression\":\"zstd\",\"encryption\":\"none\"}",
		  "chunk_size", -EINVAL },
		{ "{\"format\":\"corral-backup-repository\",\"version\":1,\"id\":\"00000000000000000000000000000000\","
		  "\"chunk_size\":4294967296,\"compression\":\"zstd\",\"encryption\":\"none\"}",
		  "chunk_size", -EINVAL },
		{ "{\"format\":\"corral-backup-repository\",\"version\":1,\"id\":\"00000000000000000000000000000000\","
		  "\"chunk_size\":1048576,\"compression\":\"zstd\",\"encryption\":\"aes-256-gcm\"}",
		  "key_check", -EINVAL },
		{ "{\"format\":\"corral-backup-repository\",\"version\":1,\"version\":1}", "not a JSON object",
		  -EINVAL },
	};

	repo_close(r);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		write_config(f, cases[i].text);
		r = NULL;
		expect_err(repo_open(f->repo, NULL, NULL, &r, &err), cases[i].rc, &err, cases[i].needle);
		assert_null(r);
	}
	/* not a repository, or not there at all (an unmounted share) */
	__do_free char *cfg = xasprintf("%s/corral-repo.json", f->repo), *nope = xasprintf("%s/nope", f->dir);
	unlink(cfg);
	expect_err(repo_open(f->repo, NULL, NULL, &r, &err), -ENOENT, &err, "is not a corral backup repository");
	expect_err(repo_open(nope, NULL, NULL, &r, &err), -ENOENT, &err, "does not exist");
	buf_release(&err);
}

static bool mount_small(struct fix *f, const char *size)
{
	__do_free char *opts = xasprintf("size=%s", size);

	f->mnt = xasprintf("%s/mnt", f->dir);
	assert_int_equal(mkdir(f->mnt, 0700), 0);
	if (mount("tmpfs", f->mnt, "tmpfs", 0, opts) < 0) {
		rmdir(f->mnt);
		free(f->mnt);
		f->mnt = NULL;
		return false;
	}
	return true;
}

static void test_no_space(void **state)
{
	struct fix *f = *state;
	struct repo_create_opts o = { .chunk_size = CHUNK };
	struct buf err = BUF_INIT;
	struct repo *r = NULL;
	uint8_t *a = xmalloc(CHUNK), d[REPO_DIGEST_LEN];
	int rc = 0, stored = 0;

	if (!mount_small(f, "2m")) {
		free(a);
		skip();
	}
	__do_free char *path = xasprintf("%s/repo", f->mnt), *tmp = xasprintf("%s/repo/tmp", f->mnt);
	assert_int_equal(repo_create(path, &o, &err), 0);
	assert_int_equal(repo_open(path, NULL, NULL, &r, &err), 0);
	repo_set_compression(r, 1);
	for (int i = 0; i < 100 && rc == 0; i++) {
		bool is_new;
		uint64_t n;
		for (size_t k = 0; k < CHUNK; k++)
			a[k] = (uint8_t)random();
		rc = repo_chunk_put(r, a, CHUNK, d, &is_new, &n, &err);
		stored += rc == 0;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_non_null(strstr(err.s, path));
	assert_non_null(strstr(err.s, "is full"));
	assert_false(repo_chunk_exists(r, d));
	assert_int_equal(count_files(tmp), 0);
	assert_true(stored > 0);
	repo_close(r);
	free(a);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encrypted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage_encrypted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_two_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_space, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
