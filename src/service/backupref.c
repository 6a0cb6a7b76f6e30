/*
 * backupref.c - what a backup reference names (see backup.h, "Backup
 * references"; docs/backup.md, "Naming a backup").
 *
 * Every request that names one backup (show, files, get, restore, verify,
 * forget) names it by its id, VM/YYYYmmddTHHMMSSZ[-N], or by VM/latest: the
 * newest backup of VM in that repository, as restic's `latest`.  This file
 * is the one place that turns a reference into an id, against the manifests
 * the repository holds when the request is made; the callers then use the
 * id alone (in jobs, events and answers), so what "latest" meant is fixed
 * once.  Anything that is not VM/latest is passed on unchanged: the
 * repository checks ids itself (repo.c, check_id).
 */
#include <errno.h>
#include <string.h>

#include "service/backup.h"
#include "backup/repo.h"
#include "util/strutil.h"
#include "util/common.h"

#define LATEST "/latest"

int svc_backup_ref_resolve(struct repo *r, const char *ref, char **id, struct buf *err)
{
	size_t len = ref ? strlen(ref) : 0, vlen;
	char **ids = NULL;
	size_t n = 0;
	int e;

	*id = NULL;
	if (len <= strlen(LATEST) || strcmp(ref + len - strlen(LATEST), LATEST) != 0) {
		*id = ref ? xstrdup(ref) : NULL;
		return 0;
	}
	vlen = len - strlen(LATEST);
	__do_free char *vm = xstrndup(ref, vlen);
	if (strchr(vm, '/') || str_name_invalid(vm)) {
		/* not a VM name: the repository refuses it as an id, with its own words */
		*id = xstrdup(ref);
		return 0;
	}
	if ((e = repo_manifest_list(r, &ids, &n, err)) < 0)
		return e;
	/* sorted by VM, then time, then the -N of backups made in the same second */
	for (size_t i = n; i-- > 0;) {
		if (strncmp(ids[i], vm, vlen) == 0 && ids[i][vlen] == '/') {
			*id = xstrdup(ids[i]);
			break;
		}
	}
	repo_ids_free(ids, n);
	if (*id)
		return 0;
	buf_printf(err, "there is no backup of vm %s in repository %s ('corral backup list' shows what there is)", vm,
		   repo_path(r));
	return -ENOENT;
}
