/*
 * test_cttree.c - container backups (src/backup/cttree.h) on real files:
 * path checks; the manifest tree's parser refusing hostile trees (absolute
 * and ".." paths, orphans, symlinked parents, hardlinks to nothing, chunk
 * lists that do not fit the size); a round trip of a small root with a
 * large file, a sparse piece, a symlink, a hardlink, a fifo and odd owners
 * through a real repository (backup, restore, compare); an incremental
 * that stores only the changed file's chunk; a cancelled run that leaves no
 * manifest; and a restore that never follows a symlink it made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "backup/cttree.h"
#include "util/common.h"

#define CHUNK (64u << 10)

static const char *const good_paths[] = { "", "a", "a/b", "etc/.hidden", "a..b", "...", "x/y.z/..w" };
static const char *const bad_paths[] = { "/a", "..", "a/..", "../a", "a/../b", ".", "a/./b", "a//b", "a/", "a\nb" };

static void test_paths(void **state)
{
	struct cttree_idshift sh = { 1000, 2000, 5000, 7000, 10 };
	(void)state;
	assert_int_equal(cttree_shift_uid(&sh, 999), 999);
	assert_int_equal(cttree_shift_uid(&sh, 1000), 5000);
	assert_int_equal(cttree_shift_uid(&sh, 1009), 5009);
	assert_int_equal(cttree_shift_uid(&sh, 1010), 1010);
	assert_int_equal(cttree_shift_gid(&sh, 2003), 7003);
	assert_int_equal(cttree_shift_gid(&sh, 1003), 1003);
	assert_int_equal(cttree_shift_uid(NULL, 1003), 1003);
	for (size_t i = 0; i < ARRAY_SIZE(good_paths); i++) {
		struct buf err = BUF_INIT;
		assert_int_equal(cttree_path_check(good_paths[i], &err), 0);
		buf_release(&err);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_paths); i++) {
		struct buf err = BUF_INIT;
		assert_int_equal(cttree_path_check(bad_paths[i], &err), -EINVAL);
		assert_true(err.len > 0);
		buf_release(&err);
	}
}

#define ID "\"0000000000000000000000000000000000000000000000000000000000000001\""
#define ROOT "{\"path\":\"\",\"type\":\"directory\",\"mode\":493,\"uid\":0,\"gid\":0,\"mtime\":1}"

static int parse(const char *files, struct cttree *t, struct buf *err)
{
	json_error_t je;
	json_t *j = json_loads(files, 0, &je);
	assert_non_null(j);
	int r = cttree_from_json(j, CHUNK, t, err);
	json_decref(j);
	return r;
}

static void refused(const char *files, const char *want)
{
	struct cttree t;
	struct buf err = BUF_INIT;
	assert_int_equal(parse(files, &t, &err), -EINVAL);
	if (!strstr(err.s, want))
		fail_msg("error '%s' does not mention '%s'", err.s, want);
	assert_int_equal(t.n, 0);
	buf_release(&err);
}

static void test_parse_roundtrip(void **state)
{
	const char *text = "[" ROOT ",{\"path\":\"d\",\"type\":\"directory\",\"mode\":448,\"uid\":100000,\"gid\":100000,"
			   "\"mtime\":2,\"mtime_ns\":5},"
			   "{\"path\":\"d/f\",\"type\":\"file\",\"mode\":420,\"uid\":1,\"gid\":2,\"mtime\":3,\"size\":70000,"
			   "\"chunks\":[" ID ",null]},"
			   "{\"path\":\"d/x\",\"type\":\"fifo\",\"mode\":420,\"uid\":1,\"gid\":2,\"mtime\":3,"
			   "\"xattrs\":{\"security.capability\":\"0100000200200000\",\"user.a\":\"\"}},"
			   "{\"path\":\"d/h\",\"type\":\"hardlink\",\"mode\":420,\"uid\":1,\"gid\":2,\"mtime\":3,\"target\":\"d/f\"},"
			   "{\"path\":\"l\",\"type\":\"symlink\",\"mode\":511,\"uid\":0,\"gid\":0,\"mtime\":4,\"target\":\"/etc\"},"
			   "{\"path\":\"n\",\"type\":\"chardev\",\"mode\":438,\"uid\":0,\"gid\":0,\"mtime\":4,\"rdev\":259}]";
	struct cttree t;
	struct buf err = BUF_INIT;
	(void)state;
	assert_int_equal(parse(text, &t, &err), 0);
	assert_int_equal(t.n, 7);
	assert_int_equal(json_object_size(t.e[3].xattrs), 2);
	assert_int_equal(t.e[2].nchunks, 2);
	assert_true(t.e[2].zero[1]);
	assert_false(t.e[2].zero[0]);
	assert_int_equal(t.e[1].uid, 100000);
	assert_int_equal(t.e[1].mtime_ns, 5);
	assert_int_equal(cttree_find(&t, "/d/h"), 4);
	assert_int_equal(cttree_find(&t, "nope"), -1);
	json_t *back = cttree_to_json(&t);
	struct cttree t2;
	assert_int_equal(cttree_from_json(back, CHUNK, &t2, &err), 0);
	json_t *again = cttree_to_json(&t2);
	assert_true(json_equal(back, again));
	json_decref(back);
	json_decref(again);
	cttree_release(&t);
	cttree_release(&t2);
	buf_release(&err);
}

static void test_parse_hostile(void **state)
{
	(void)state;
	refused("[]", "non-empty array");
	refused("{}", "non-empty array");
	refused("[{\"path\":\"a\",\"type\":\"directory\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1}]", "root directory");
	refused("[" ROOT ",{\"path\":\"/etc\",\"type\":\"directory\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1}]", "absolute");
	refused("[" ROOT ",{\"path\":\"../x\",\"type\":\"file\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"chunks\":[]}]", "'..'");
	refused("[" ROOT ",{\"path\":\"a/b\",\"type\":\"file\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"chunks\":[]}]",
		"not an earlier directory");
	/* a file under a symlink: the parent must be a directory entry */
	refused("[" ROOT ",{\"path\":\"l\",\"type\":\"symlink\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"target\":\"/etc\"},"
		"{\"path\":\"l/passwd\",\"type\":\"file\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"chunks\":[]}]",
		"not an earlier directory");
	refused("[" ROOT ",{\"path\":\"h\",\"type\":\"hardlink\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"target\":\"etc/shadow\"}]",
		"names no earlier regular file");
	refused("[" ROOT ",{\"path\":\"h\",\"type\":\"hardlink\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"target\":\"/etc/shadow\"}]",
		"absolute");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"file\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"size\":1,\"chunks\":[]}]",
		"expected 1");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"file\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"size\":1,\"chunks\":[\"zz\"]}]",
		"64 hex");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"file\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"chunks\":[]},"
		"{\"path\":\"f\",\"type\":\"file\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"chunks\":[]}]", "twice");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"weird\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1}]", "unknown type");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"fifo\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"extra\":1}]", "extra");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"fifo\",\"mode\":65535,\"uid\":0,\"gid\":0,\"mtime\":1}]", "mode");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"fifo\",\"mode\":1,\"uid\":-1,\"gid\":0,\"mtime\":1}]", "uid");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"fifo\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"xattrs\":{\"user.a\":\"xyz\"}}]",
		"not hex");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"fifo\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"xattrs\":{\"noprefix\":\"00\"}}]",
		"bad name");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"fifo\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"xattrs\":[]}]",
		"xattrs");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"symlink\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1}]", "target");
	refused("[" ROOT ",{\"path\":\"f\",\"type\":\"fifo\",\"mode\":1,\"uid\":0,\"gid\":0,\"mtime\":1,\"chunks\":[]}]",
		"only regular files");
}

/* ---- on real files ---- */

struct fix {
	char dir[64];
	char *repo, *src, *dst;
	struct repo *r;
};

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void put_file(const char *path, size_t size, unsigned seed)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc((int)(((i * 2654435761u) >> 13) + seed * 7) & 0xff, f);
	fclose(f);
}

static int setup(void **state)
{
	struct fix *f = xcalloc(1, sizeof(*f));
	struct buf err = BUF_INIT;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_cttree.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->repo = xasprintf("%s/repo", f->dir);
	f->src = xasprintf("%s/src", f->dir);
	f->dst = xasprintf("%s/dst", f->dir);
	struct repo_create_opts o = { .chunk_size = CHUNK };
	assert_int_equal(repo_create(f->repo, &o, &err), 0);
	assert_int_equal(repo_open(f->repo, NULL, NULL, &f->r, &err), 0);
	buf_release(&err);
	/* the source root */
	__do_free char *d = xasprintf("%s/d", f->src), *big = xasprintf("%s/d/big", f->src),
		       *small = xasprintf("%s/small", f->src), *hard = xasprintf("%s/d/hard", f->src),
		       *lnk = xasprintf("%s/link", f->src), *fifo = xasprintf("%s/fifo", f->src),
		       *sparse = xasprintf("%s/sparse", f->src), *empty = xasprintf("%s/empty", f->src);
	assert_int_equal(mkdir(f->src, 0755), 0);
	assert_int_equal(mkdir(d, 0750), 0);
	put_file(big, 3 * CHUNK + 123, 1);
	put_file(small, 100, 2);
	put_file(empty, 0, 3);
	assert_int_equal(link(big, hard), 0);
	assert_int_equal(symlink("d/big", lnk), 0);
	assert_int_equal(mkfifo(fifo, 0640), 0);
	int fd = open(sparse, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "end", 3, 2 * CHUNK), 3);
	close(fd);
	assert_int_equal(chown(small, 100000, 100007), 0);
	assert_int_equal(lchown(lnk, 100001, 100002), 0);
	assert_int_equal(chown(d, 100003, 100004), 0);
	/* extended attributes (when /tmp's file system has user ones) */
	if (setxattr(big, "user.corral", "hello", 5, 0) == 0)
		assert_int_equal(setxattr(d, "user.dir", "\x00\xff", 2, 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	repo_close(f->r);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f->repo);
	free(f->src);
	free(f->dst);
	free(f);
	return 0;
}

static int run_backup(struct fix *f, const atomic_bool *cancel, int64_t now, struct backup_ct_result *res,
		      struct buf *err)
{
	json_t *def = json_pack("{s:s}", "name", "c1");
	struct backup_ct_req req = { .name = "c1", .uuid = "00000000-0000-4000-8000-000000000001", .definition = def,
				     .rootfs = f->src, .consistency = "stopped", .now = now, .cancel = cancel };
	int r = backup_ct(f->r, &req, NULL, NULL, res, err);
	json_decref(def);
	return r;
}

static void same_file(const char *a, const char *b)
{
	struct buf x = BUF_INIT, y = BUF_INIT;
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	char tmp[4096];
	size_t n;
	assert_non_null(fa);
	assert_non_null(fb);
	while ((n = fread(tmp, 1, sizeof(tmp), fa)) > 0)
		buf_add(&x, tmp, n);
	while ((n = fread(tmp, 1, sizeof(tmp), fb)) > 0)
		buf_add(&y, tmp, n);
	fclose(fa);
	fclose(fb);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.s, y.s, x.len);
	buf_release(&x);
	buf_release(&y);
}

static void same_meta(const char *a, const char *b)
{
	struct stat sa, sb;
	assert_int_equal(lstat(a, &sa), 0);
	assert_int_equal(lstat(b, &sb), 0);
	assert_int_equal(sa.st_mode, sb.st_mode);
	assert_int_equal(sa.st_uid, sb.st_uid);
	assert_int_equal(sa.st_gid, sb.st_gid);
	if (!S_ISLNK(sa.st_mode) || sa.st_mtime == sb.st_mtime)
		assert_int_equal(sa.st_mtime, sb.st_mtime);
}

static void test_roundtrip(void **state)
{
	struct fix *f = *state;
	struct backup_ct_result res = { 0 }, res2 = { 0 };
	struct buf err = BUF_INIT;
	json_t *m = NULL;
	struct cttree t;

	assert_int_equal(run_backup(f, NULL, 1700000000, &res, &err), 0);
	assert_int_equal(res.files, 4); /* big, small, empty, sparse (hard is a link) */
	assert_int_equal(repo_manifest_read(f->r, res.id, &m, &err), 0);
	assert_true(backup_manifest_is_ct(m));
	assert_null(json_object_get(m, "disks"));
	assert_int_equal(backup_ct_tree(m, &t, &err), 0);
	ssize_t h = cttree_find(&t, "d/hard"), s = cttree_find(&t, "sparse");
	assert_true(h > 0 && s > 0);
	assert_int_equal(t.e[h].type, CTT_HARDLINK);
	assert_string_equal(t.e[h].target, "d/big");
	assert_true(t.e[s].zero[0] && t.e[s].zero[1] && !t.e[s].zero[2]);

	/* restore and compare */
	assert_int_equal(mkdir(f->dst, 0700), 0);
	int fd = open(f->dst, O_RDONLY | O_DIRECTORY);
	assert_int_equal(backup_ct_restore(f->r, &t, fd, NULL, NULL, NULL, NULL, &err), 0);
	close(fd);
	static const char *const names[] = { "", "/d", "/d/big", "/small", "/empty", "/sparse", "/link", "/fifo", "/d/hard" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		__do_free char *a = xasprintf("%s%s", f->src, names[i]), *b = xasprintf("%s%s", f->dst, names[i]);
		same_meta(a, b);
		struct stat st;
		assert_int_equal(lstat(a, &st), 0);
		if (S_ISREG(st.st_mode))
			same_file(a, b);
	}
	struct stat sb, sh;
	__do_free char *big = xasprintf("%s/d/big", f->dst), *hard = xasprintf("%s/d/hard", f->dst),
		       *lnk = xasprintf("%s/link", f->dst);
	assert_int_equal(stat(big, &sb), 0);
	assert_int_equal(stat(hard, &sh), 0);
	assert_int_equal(sb.st_ino, sh.st_ino);
	char xv[16] = "";
	__do_free char *sbig = xasprintf("%s/d/big", f->src), *dd = xasprintf("%s/d", f->dst);
	if (getxattr(sbig, "user.corral", xv, sizeof(xv)) == 5) {
		assert_int_equal(getxattr(big, "user.corral", xv, sizeof(xv)), 5);
		assert_memory_equal(xv, "hello", 5);
		assert_int_equal(getxattr(dd, "user.dir", xv, sizeof(xv)), 2);
		assert_memory_equal(xv, "\x00\xff", 2);
	}
	char target[64] = "";
	assert_int_equal(readlink(lnk, target, sizeof(target) - 1), 5);
	assert_string_equal(target, "d/big");

	/* again, with owners moved from one id range to another */
	struct cttree_idshift shift = { 100000, 100000, 200000, 300000, 65536 };
	__do_free char *dst2 = xasprintf("%s/dst2", f->dir), *small2 = xasprintf("%s/dst2/small", f->dir),
		       *lnk2 = xasprintf("%s/dst2/link", f->dir), *root2 = xasprintf("%s/dst2/empty", f->dir);
	assert_int_equal(mkdir(dst2, 0700), 0);
	fd = open(dst2, O_RDONLY | O_DIRECTORY);
	assert_int_equal(backup_ct_restore(f->r, &t, fd, &shift, NULL, NULL, NULL, &err), 0);
	close(fd);
	struct stat so;
	assert_int_equal(lstat(small2, &so), 0);
	assert_int_equal(so.st_uid, 200000);
	assert_int_equal(so.st_gid, 300007);
	assert_int_equal(lstat(lnk2, &so), 0);
	assert_int_equal(so.st_uid, 200001);
	assert_int_equal(so.st_gid, 300002);
	assert_int_equal(lstat(root2, &so), 0); /* id 0: outside the range, unchanged */
	assert_int_equal(so.st_uid, 0);

	/* verify walks the files' chunks */
	struct repo_check_result cr;
	assert_int_equal(repo_verify(f->r, &res.id, 1, NULL, NULL, NULL, &cr, &err), 0);
	assert_true(cr.chunks_checked >= 4);
	assert_int_equal(cr.chunks_bad + cr.chunks_missing, 0);
	repo_check_result_release(&cr);

	/* an incremental after changing the small file stores one chunk */
	__do_free char *small = xasprintf("%s/small", f->src);
	put_file(small, 100, 9);
	assert_int_equal(run_backup(f, NULL, 1700000100, &res2, &err), 0);
	assert_int_equal(res2.chunks_new, 1);
	assert_true(res2.chunks >= 5);

	/* a cancelled run leaves no manifest */
	atomic_bool cancel = true;
	struct backup_ct_result res3 = { 0 };
	char **ids;
	size_t n;
	assert_int_equal(run_backup(f, &cancel, 1700000200, &res3, &err), -ECANCELED);
	assert_int_equal(repo_manifest_list(f->r, &ids, &n, &err), 0);
	assert_int_equal(n, 2);
	repo_ids_free(ids, n);

	json_decref(m);
	cttree_release(&t);
	backup_ct_result_release(&res);
	backup_ct_result_release(&res2);
	buf_release(&err);
}

/* A tree whose directory "a" is, on disk, a symlink out of the root (as if
 * the restore had made it): writing "a/x" must fail, not write outside. */
static void test_restore_no_follow(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct cttree t = { 0 };
	__do_free char *outside = xasprintf("%s/outside", f->dir), *a = xasprintf("%s/a", f->dst),
		       *victim = xasprintf("%s/outside/x", f->dir);

	assert_int_equal(mkdir(outside, 0700), 0);
	assert_int_equal(mkdir(f->dst, 0700), 0);
	assert_int_equal(symlink(outside, a), 0);
	cttree_add(&t, "", CTT_DIR)->mode = 0755;
	struct cttree_entry *e = cttree_add(&t, "a/x", CTT_FILE);
	e->mode = 0644;
	e->chunks = xcalloc(1, sizeof(*e->chunks));
	e->zero = xcalloc(1, sizeof(*e->zero));
	int fd = open(f->dst, O_RDONLY | O_DIRECTORY);
	assert_int_not_equal(backup_ct_restore(f->r, &t, fd, NULL, NULL, NULL, NULL, &err), 0);
	close(fd);
	assert_true(access(victim, F_OK) < 0);
	cttree_release(&t);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_parse_roundtrip),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_no_follow, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
