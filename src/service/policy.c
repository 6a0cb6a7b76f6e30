/*
 * policy.c - backup policies and the scheduler that runs them (see policy.h,
 * "Backup policies"; backup/policy.h for what a policy says).
 *
 * A policy is stored as its JSON (backup/policy.h checks it strictly; a
 * VmBackup-style text file is accepted too and stored as JSON).  The
 * scheduler thread wakes every SCHED_TICK_S seconds, and starts a backup run
 * for every enabled policy whose next run time has come; the next time is
 * computed from the calendar expression (backup/calendar.h, UTC) after the
 * current time, so a corrald that was down over several occurrences runs a
 * policy once, not once per missed occurrence.  A policy whose previous run
 * is still going is not started again.  Runs are ordinary backup jobs
 * (svc_backup_run, core/job.h): svc_backup_shutdown stops and joins the
 * scheduler thread, so it starts none after it returns, and
 * job_engine_shutdown cancels and joins the runs themselves.
 *
 * At start (svc_backup_init) corrald also removes what a crash left of
 * backups inside running QEMUs (fleecing nodes, NBD exports, overlays).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "service/backup.h"
#include "service/internal.h"
#include "core/store_local.h"
#include "backup/backup.h"
#include "backup/calendar.h"
#include "backup/policy.h"
#include "core/job.h"
#include "qemu/runtime.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define SCHED_TICK_S 10

static pthread_t sched_thread;
static bool sched_running;
static pthread_mutex_t sched_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sched_cond = PTHREAD_COND_INITIALIZER;
static bool sched_stop;
static json_t *sched_jobs; /* policy name -> job id of its last scheduled run */

/* Next run of p after now (0: on demand only), or -EINVAL with err. */
static int policy_next_run(const struct policy *p, int64_t now, int64_t *next, struct buf *err)
{
	struct calendar cal;
	int r;

	*next = 0;
	if (!p->schedule || !p->enabled)
		return 0;
	if ((r = calendar_parse(p->schedule, &cal, err)) < 0)
		return r;
	if ((r = calendar_next(&cal, now, next, err)) == -ENOENT)
		*next = 0; /* never again ("2020-01-01"): valid, just idle */
	return r == -ENOENT ? 0 : r;
}

static json_t *policy_json_with_runs(const struct policy *p, int64_t last, int64_t next)
{
	char a[40], b[40];
	json_t *j = policy_to_json(p);
	json_object_set_new(j, "last_run", last ? json_string(time_fmt_rfc3339(last * 1000, a, sizeof(a))) : json_null());
	json_object_set_new(j, "next_run", next ? json_string(time_fmt_rfc3339(next * 1000, b, sizeof(b))) : json_null());
	return j;
}

int svc_policy_put(const json_t *def, const char *text, const char *name, json_t **out, struct buf *err)
{
	struct policy p = { 0 };
	__do_free char *s = NULL;
	int64_t next = 0;
	int r;

	if (!!def == !!text) {
		buf_adds(err, "give a policy either as JSON or as a policy file");
		return -EINVAL;
	}
	r = def ? policy_from_json(def, &p, err) : policy_parse_text(text, strlen(text), name, &p, err);
	if (r < 0)
		return r;
	if ((r = policy_next_run(&p, (int64_t)time(NULL), &next, err)) < 0)
		goto out;
	json_t *j = policy_to_json(&p);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if ((r = store_policy_put(svc_cfg.store, p.name, s, next)) < 0) {
		if (store_commit_refusal(r))
			buf_adds(err, store_commit_refusal(r));
		else
			buf_printf(err, "cannot store backup policy '%s'", p.name);
		goto out;
	}
	log_info("backup policy %s saved", p.name);
	r = svc_policy_get(p.name, out, err);
out:
	policy_release(&p);
	return r;
}

int svc_policy_get(const char *name, json_t **out, struct buf *err)
{
	struct policy_record pr = { 0 };
	struct policy p = { 0 };
	__do_json json_t *j = NULL;
	int r;

	if ((r = store_policy_get(svc_cfg.store, name, &pr)) < 0) {
		buf_printf(err, r == -ENOENT ? "backup policy '%s' not found" : "cannot read backup policy '%s'", name);
		return r;
	}
	if (!(j = json_loads(pr.def, 0, NULL)) || policy_from_json(j, &p, err) < 0) {
		buf_printf(err, "%sbackup policy '%s' is unreadable in the state database", err->len ? "; " : "", name);
		r = -EIO;
	} else {
		*out = policy_json_with_runs(&p, pr.last_run, pr.next_run);
	}
	policy_release(&p);
	policy_record_release(&pr);
	return r;
}

json_t *svc_policy_list(void)
{
	struct policy_record *list = NULL;
	size_t n = 0;
	json_t *arr = json_array();

	if (store_policy_list(svc_cfg.store, &list, &n) < 0)
		return arr;
	for (size_t i = 0; i < n; i++) {
		json_t *p = NULL;
		struct buf err = BUF_INIT;
		if (svc_policy_get(list[i].name, &p, &err) == 0)
			json_array_append_new(arr, p);
		else
			json_array_append_new(arr, json_pack("{s:s,s:s}", "name", list[i].name, "error", err.s));
		buf_release(&err);
	}
	store_policy_list_free(list, n);
	return arr;
}

int svc_policy_delete(const char *name, struct buf *err)
{
	int r = store_policy_delete(svc_cfg.store, name);
	if (r == -ENOENT)
		buf_printf(err, "backup policy '%s' not found", name);
	else if (r < 0 && store_commit_refusal(r))
		buf_adds(err, store_commit_refusal(r));
	else if (r < 0)
		buf_printf(err, "cannot delete backup policy '%s'", name);
	return r;
}

/* ---- scheduler ---------------------------------------------------------- */

/* true if the last scheduled run of `name` is still running. */
static bool policy_busy(const char *name)
{
	json_t *id = json_object_get(sched_jobs, name);
	if (!id)
		return false;
	__do_json json_t *job = job_get(json_integer_value(id));
	return job && strcmp(json_string_value(json_object_get(job, "state")), "running") == 0;
}

static void sched_tick(void)
{
	struct policy_record *list = NULL;
	size_t n = 0;
	int64_t now = (int64_t)time(NULL);

	if (store_policy_list(svc_cfg.store, &list, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct policy p = { 0 };
		__do_json json_t *j = json_loads(list[i].def, 0, NULL);
		struct buf err = BUF_INIT;
		int64_t next = 0;

		if (!list[i].next_run || list[i].next_run > now || !j || policy_from_json(j, &p, &err) < 0 ||
		    policy_busy(list[i].name))
			goto next;
		if (policy_next_run(&p, now, &next, &err) < 0)
			log_warn("backup policy %s: %s", p.name, err.s);
		store_policy_set_runs(svc_cfg.store, p.name, now, next);
		struct svc_backup_opts o = { .policy = p.name };
		json_t *job = NULL;
		buf_reset(&err);
		if (p.enabled && svc_backup_run(&o, &job, &err) == 0) {
			log_info("backup policy %s: scheduled run started (job %" JSON_INTEGER_FORMAT ")", p.name,
				 json_integer_value(json_object_get(job, "id")));
			json_object_set(sched_jobs, p.name, json_object_get(job, "id"));
		} else if (p.enabled) {
			log_warn("backup policy %s: scheduled run not started: %s", p.name, err.s);
		}
		json_decref(job);
next:
		policy_release(&p);
		buf_release(&err);
	}
	store_policy_list_free(list, n);
}

static void *sched_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sched_lock);
	while (!sched_stop) {
		struct timespec ts;
		pthread_mutex_unlock(&sched_lock);
		sched_tick();
		pthread_mutex_lock(&sched_lock);
		ts = time_realtime_in(SCHED_TICK_S * 1000);
		if (!sched_stop)
			pthread_cond_timedwait(&sched_cond, &sched_lock, &ts);
	}
	pthread_mutex_unlock(&sched_lock);
	return NULL;
}

/* Remove backup leftovers from every running VM (a crash mid-backup). */
static void backup_cleanup_all(void)
{
	struct vm_record *list = NULL;
	size_t n = 0;

	if (store_vm_list(svc_cfg.store, &list, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *uuid = list[i].def->uuid;
		struct rt_ref *ref = NULL;
		struct job_hold *hold = NULL;
		struct buf err = BUF_INIT;
		struct qmp *q;

		if (!rt_is_active(uuid) || job_hold_vm(uuid, list[i].def->name, "backup-cleanup", &hold, &err) < 0)
			goto next;
		if ((q = rt_qmp_acquire(uuid, &ref, &err))) {
			__do_free char *dir = xasprintf("%s/%s", svc_cfg.run_dir, uuid);
			if (backup_cleanup_vm(q, dir, &err) < 0)
				log_warn("vm %s: cannot clean up after an interrupted backup: %s", list[i].def->name, err.s);
			rt_qmp_release(ref);
		}
		job_release(hold);
next:
		buf_release(&err);
	}
	store_vm_list_free(list, n);
}

int svc_backup_init(struct buf *err)
{
	backup_cleanup_all();
	sched_jobs = json_object();
	sched_stop = false;
	if (pthread_create(&sched_thread, NULL, sched_main, NULL) != 0) {
		buf_adds(err, "cannot start the backup scheduler");
		return -EAGAIN;
	}
	sched_running = true;
	return 0;
}

void svc_backup_shutdown(void)
{
	if (!sched_running)
		return;
	pthread_mutex_lock(&sched_lock);
	sched_stop = true;
	pthread_cond_signal(&sched_cond);
	pthread_mutex_unlock(&sched_lock);
	pthread_join(sched_thread, NULL);
	sched_running = false;
	json_decref(sched_jobs);
	sched_jobs = NULL;
}
