/*
 * test_service_backupref.c - backup references (src/service/backupref.c):
 * VM/latest names the newest backup of VM in a real repository on disk,
 * registered with the service layer of svc_fixture.h,
 * also among backups made in the same second (-N) and next to VMs whose
 * names share a prefix; an id passes unchanged; a VM without backups, and
 * "latest" of an impossible VM name, are refused the way the repository
 * refuses ids.  Then the verbs that take a reference (show, forget) through
 * the service functions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_fixture.h"
#include "backup/repo.h"
#include "service/backup.h"
#include "service/repo.h"
#include "util/common.h"

/* One fresh registered repository per test. */
struct fix {
	char *path;
	struct repo *r;
};
static struct svc_fixture *fx;
static int n_repos;

/* A backup of vm at time t with no disks (what listing and resolving read). */
static char *backup_at(struct repo *r, const char *vm, int64_t t)
{
	struct buf err = BUF_INIT;
	char *id = NULL;
	json_t *m = json_pack("{s:{s:s,s:s},s:[]}", "vm", "name", vm, "uuid", "00000000-0000-4000-8000-000000000001",
			      "disks");

	if (repo_manifest_new_id(r, vm, t, &id, &err) < 0 || repo_manifest_write(r, id, m, &err) < 0)
		fail_msg("%s", err.s);
	json_decref(m);
	buf_release(&err);
	return id;
}

static int setup(void **state)
{
	struct fix *f = xcalloc(1, sizeof(*f));
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	f->path = xasprintf("%s/repo%d", fx->dir, ++n_repos);
	if (svc_repo_create(f->path, false, NULL, 64u << 10, &out, &err) < 0 ||
	    svc_repo_open(f->path, &f->r, NULL, &err) < 0)
		fail_msg("%s", err.s);
	json_decref(out);
	buf_release(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	repo_close(f->r);
	free(f->path);
	free(f);
	return 0;
}

static void resolves(struct repo *r, const char *ref, const char *want)
{
	struct buf err = BUF_INIT;
	char *id = NULL;

	if (svc_backup_ref_resolve(r, ref, &id, &err) < 0)
		fail_msg("%s: %s", ref, err.s);
	assert_string_equal(id, want);
	free(id);
	buf_release(&err);
}

static void test_latest(void **state)
{
	struct fix *f = *state;

	/* made out of order; web10 and web-1 share web1's prefix */
	free(backup_at(f->r, "web1", 1700000000));
	free(backup_at(f->r, "web1", 1600000000));
	free(backup_at(f->r, "web10", 1800000000));
	free(backup_at(f->r, "web", 1900000000));
	free(backup_at(f->r, "db1", 1750000000));
	resolves(f->r, "web1/latest", "web1/20231114T221320Z");
	resolves(f->r, "web10/latest", "web10/20270115T080000Z");
	resolves(f->r, "web/latest", "web/20300317T174640Z");
	resolves(f->r, "db1/latest", "db1/20250615T150640Z");
	/* two in the same second: the later one has the higher -N */
	char *a = backup_at(f->r, "web1", 1700000000);
	assert_string_equal(a, "web1/20231114T221320Z-1");
	resolves(f->r, "web1/latest", a);
	free(a);
	a = backup_at(f->r, "web1", 1700000000);
	resolves(f->r, "web1/latest", "web1/20231114T221320Z-2");
	free(a);
}

static void test_ids_pass_unchanged(void **state)
{
	struct fix *f = *state;

	resolves(f->r, "web1/20231114T221320Z", "web1/20231114T221320Z");
	/* not checked here: the repository refuses bad ids with its own words */
	resolves(f->r, "../../etc/passwd", "../../etc/passwd");
	resolves(f->r, "latest", "latest");
	resolves(f->r, "/latest", "/latest");
	resolves(f->r, "a/b/latest", "a/b/latest");
	resolves(f->r, "web1/latest2", "web1/latest2");

	struct buf err = BUF_INIT;
	json_t *out = NULL;
	assert_int_equal(svc_backup_show(f->path, "a/b/latest", &out, &err), -EINVAL);
	assert_non_null(strstr(err.s, "not a valid backup id"));
	assert_null(out);
	buf_release(&err);
}

static void test_no_backup(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	char *id = NULL;

	free(backup_at(f->r, "web10", 1800000000));
	assert_int_equal(svc_backup_ref_resolve(f->r, "web1/latest", &id, &err), -ENOENT);
	assert_null(id);
	assert_non_null(strstr(err.s, "there is no backup of vm web1 in repository"));
	buf_release(&err);
}

/* The service verbs take references: show names the id it resolved to, forget deletes the newest. */
static void test_verbs(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	char *gone = NULL;
	char *old = backup_at(f->r, "web1", 1600000000), *new = backup_at(f->r, "web1", 1700000000);

	if (svc_backup_show(f->path, "web1/latest", &out, &err) < 0)
		fail_msg("%s", err.s);
	assert_string_equal(json_string_value(json_object_get(out, "id")), new);
	json_decref(out);
	if (svc_backup_forget(f->path, "web1/latest", &gone, &err) < 0)
		fail_msg("%s", err.s);
	assert_string_equal(gone, new);
	free(gone);
	resolves(f->r, "web1/latest", old);
	assert_int_equal(svc_backup_forget(f->path, "web1/latest", &gone, &err), 0);
	free(gone);
	assert_int_equal(svc_backup_forget(f->path, "web1/latest", &gone, &err), -ENOENT);
	assert_null(gone);
	assert_non_null(strstr(err.s, "no backup of vm web1"));
	free(old);
	free(new);
	buf_release(&err);
}

static int group_setup(void **state)
{
	int r = svc_fixture_setup(state);
	fx = *state;
	return r;
}

static int group_teardown(void **state) { return svc_fixture_teardown(state); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_latest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_pass_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_backup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verbs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
