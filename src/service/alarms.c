/*
 * alarms.c - alarm rules: their definitions (validated here, stored as
 * configuration), their evaluation over the metrics sampler's rounds and
 * over the event bus, the state of each (rule, object) pair with its
 * history, and the worker thread that sends notifications (see alarms.h,
 * docs/alarms.md).
 *
 * Threads: the sampler calls svc_alarms_on_sample; the bus callback only
 * queues a copy of the events that can match (it may not block nor
 * publish); the worker thread matches those events against the event
 * rules and sends every notification, retrying with backoff; API threads
 * read and change rules.  a_lock guards the tracks (every pair's state in
 * memory); q_lock the worker's queue.  Lock order (docs/jobs.md): a_lock,
 * then the store's and the bus's locks (called with it held), then q_lock
 * (a leaf: the bus callback takes it under the bus lock).
 *
 * Restart: the tracks are loaded from the store at start, so a firing
 * alarm stays firing and is not notified again; a pair that resolved while
 * corrald was down resolves (and notifies) at the first sample that shows it.
 * Every notification is a row of alarm_outbox, written in the transition's
 * transaction and removed once delivered or given up: the worker's queue
 * is only its copy in memory, refilled from the rows at start (at least
 * once: a kill -9 between a delivery and its row's removal sends it again).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/alarms.h"
#include "service/alarm_notify.h"
#include "service/alarm_internal.h"
#include "service/internal.h"
#include "core/events.h"
#include "core/select.h"
#include "core/store.h"
#include "core/store_local.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

/* ---- rules ---- */

struct rule {
	char *name;
	json_t *def;
	struct alarm_expr e;
	bool has_sel;
	struct selector sel; /* VM rules with "on" */
	const char *pool_glob; /* pool rules with "on" (into def) */
};

static void rule_release(struct rule *r)
{
	free(r->name);
	json_decref(r->def);
	if (r->has_sel)
		selector_release(&r->sel);
	memset(r, 0, sizeof(*r));
}

static const char *rule_on(const json_t *def) { return json_string_value(json_object_get(def, "on")); }

/* A stored definition as a rule; -EINVAL when it no longer parses (logged by the caller). */
static int rule_from_def(const char *name, const char *text, struct rule *r, struct buf *err)
{
	memset(r, 0, sizeof(*r));
	r->def = json_loads(text, 0, NULL);
	r->name = xstrdup(name);
	if (!json_is_object(r->def) || alarm_expr_parse(json_string_value(json_object_get(r->def, "when")), &r->e, err) < 0)
		goto bad;
	const char *on = rule_on(r->def);
	if (on && r->e.scope == ALARM_SCOPE_VM) {
		if (selector_parse(on, &r->sel, err) < 0)
			goto bad;
		r->has_sel = true;
	} else if (on && r->e.scope == ALARM_SCOPE_POOL) {
		r->pool_glob = strncmp(on, "name:", 5) == 0 ? on + 5 : on;
	}
	return 0;
bad:
	if (!err->len)
		buf_printf(err, "alarm '%s': unreadable definition", name);
	rule_release(r);
	return -EINVAL;
}

/* Every stored rule that parses; *n rules in a new array. */
static struct rule *rules_load(size_t *n)
{
	struct alarm_record *list = NULL;
	size_t nl = 0;
	struct rule *rules;
	*n = 0;
	if (store_alarm_list(svc_cfg.store, &list, &nl) < 0)
		return NULL;
	rules = xcalloc(nl + 1, sizeof(*rules));
	for (size_t i = 0; i < nl; i++) {
		struct buf err = BUF_INIT;
		if (rule_from_def(list[i].name, list[i].def, &rules[*n], &err) == 0)
			(*n)++;
		else
			log_warn("alarm '%s' is not evaluated: %s", list[i].name, err.s);
		buf_release(&err);
	}
	store_alarm_list_free(list, nl);
	return rules;
}

static void rules_free(struct rule *rules, size_t n)
{
	for (size_t i = 0; rules && i < n; i++)
		rule_release(&rules[i]);
	free(rules);
}

/* ---- tracks: the state of each (rule, object) pair ---- */

struct track {
	char *rule, *object, *name;
	enum alarm_scope scope;
	struct alarm_track t;
	bool seen; /* in the current round */
};

static pthread_mutex_t a_lock = PTHREAD_MUTEX_INITIALIZER;
static struct track *tracks;
static size_t ntracks;

static struct track *track_find(const char *rule, const char *object, bool create)
{
	for (size_t i = 0; i < ntracks; i++)
		if (strcmp(tracks[i].rule, rule) == 0 && strcmp(tracks[i].object, object) == 0)
			return &tracks[i];
	if (!create)
		return NULL;
	tracks = xrealloc(tracks, (ntracks + 1) * sizeof(*tracks));
	struct track *t = &tracks[ntracks++];
	memset(t, 0, sizeof(*t));
	t->rule = xstrdup(rule);
	t->object = xstrdup(object);
	t->name = xstrdup("");
	t->t.value = NAN;
	return t;
}

static void track_drop(size_t i)
{
	free(tracks[i].rule);
	free(tracks[i].object);
	free(tracks[i].name);
	tracks[i] = tracks[--ntracks];
}

static void tracks_free(void)
{
	while (ntracks)
		track_drop(ntracks - 1);
	free(tracks);
	tracks = NULL;
}

static const char *scope_kind(enum alarm_scope s)
{
	return s == ALARM_SCOPE_VM ? "vm" : s == ALARM_SCOPE_POOL ? "pool" : "host";
}

/* ---- the worker's queue ---- */

enum qkind { Q_EVENT, Q_NOTIFY };

struct qitem {
	struct qitem *next;
	enum qkind kind;
	json_t *event;   /* Q_EVENT */
	char *rule;      /* Q_NOTIFY: whose target and SMTP settings */
	char *target;
	json_t *smtp;    /* the rule's "smtp", or NULL */
	json_t *payload;
	int64_t id;      /* Q_NOTIFY: its alarm_outbox row, 0 if it has none (the store failed) */
	int attempt;
	int64_t due_ms;  /* monotonic */
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct qitem *queue;
static size_t qlen;
static bool q_stop, w_running;
static pthread_t w_thread;
static int bus_sub;

static void qitem_free(struct qitem *q)
{
	if (!q)
		return;
	json_decref(q->event);
	free(q->rule);
	free(q->target);
	json_decref(q->smtp);
	json_decref(q->payload);
	free(q);
}

static void q_push(struct qitem *q)
{
	pthread_mutex_lock(&q_lock);
	if (q_stop || !w_running) { /* corrald stops: a notification's row waits for the next start */
		pthread_mutex_unlock(&q_lock);
		qitem_free(q);
		return;
	}
	if (qlen >= ALARM_QUEUE_MAX) {
		pthread_mutex_unlock(&q_lock);
		if (q->kind == Q_NOTIFY) {
			log_warn("alarm '%s': a notification is dropped (%d are waiting already)", q->rule, ALARM_QUEUE_MAX);
			if (q->id)
				store_alarm_outbox_done(svc_cfg.store, q->id);
		}
		qitem_free(q);
		return;
	}
	struct qitem **p = &queue;
	while (*p)
		p = &(*p)->next;
	*p = q;
	qlen++;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

char *svc_alarm_secret_path(const char *rule)
{
	return xasprintf("%s/alarms/%s.smtp-password", svc_cfg.state_dir, rule);
}

/* The notifications a transition of rule r sends: one per target, for alarm_outbox (new reference). */
static json_t *outbox_of(const struct rule *r, json_t *payload)
{
	json_t *out = json_array(), *t;
	size_t i;
	json_array_foreach(json_object_get(r->def, "notify"), i, t)
		json_array_append_new(out, json_pack("{s:O,s:O?,s:O}", "target", t, "smtp",
						     json_object_get(r->def, "smtp"), "payload", payload));
	json_decref(payload);
	return out;
}

/* Hand the worker one item per notification (outbox_list's or store_alarm_transition's shape). */
static void notify(const char *rule, const json_t *outbox)
{
	json_t *o;
	size_t i;
	json_array_foreach(outbox, i, o) {
		struct qitem *q = xcalloc(1, sizeof(*q));
		json_t *smtp = json_object_get(o, "smtp");
		q->kind = Q_NOTIFY;
		q->rule = xstrdup(rule ? rule : json_string_value(json_object_get(o, "rule")));
		q->target = xstrdup(json_string_value(json_object_get(o, "target")));
		q->smtp = json_is_object(smtp) ? json_deep_copy(smtp) : NULL;
		q->payload = json_incref(json_object_get(o, "payload"));
		q->id = json_integer_value(json_object_get(o, "id"));
		q->attempt = (int)json_integer_value(json_object_get(o, "attempt"));
		q->due_ms = time_mono_ms();
		q_push(q);
	}
}

int svc_alarm_send_one(const char *rule, const char *target, const json_t *smtp, const json_t *payload, struct buf *err)
{
	if (strncmp(target, "mailto:", 7) == 0) {
		struct buf pw = BUF_INIT;
		__do_free char *path = svc_alarm_secret_path(rule);
		__do_json json_t *to = json_array();
		const char *p = target + 7;
		while (*p) {
			size_t n = strcspn(p, ",");
			json_array_append_new(to, json_stringn(p, n));
			p += n + (p[n] == ',');
		}
		if (json_is_true(json_object_get(smtp, "password_set")))
			fs_read_file(path, 4096, &pw);
		if (pw.s)
			pw.s[strcspn(pw.s, "\r\n")] = '\0';
		struct alarm_smtp s = { json_string_value(json_object_get(smtp, "url")),
					json_string_value(json_object_get(smtp, "from")),
					json_string_value(json_object_get(smtp, "user")), pw.s };
		int r = s.url && s.from ? alarm_notify_email(&s, to, payload, err) : -EINVAL;
		if (!s.url || !s.from)
			buf_adds(err, "the rule has no SMTP server");
		if (pw.s)
			explicit_bzero(pw.s, pw.len);
		buf_release(&pw);
		return r;
	}
	return alarm_notify_webhook(target, payload, err);
}

/* ---- transitions ---- */

/* Record a transition: history and state in the store, an "alarm" event in
 * the history and on the bus; firing/resolved queue notifications. */
static void transition(const struct rule *r, struct track *tk, const char *from, enum alarm_transition tr,
		       const char *uuid, int64_t now_ms)
{
	const char *to = tr == ALARM_T_PENDING ? "pending" : tr == ALARM_T_FIRING ? "firing" : "ok";
	const char *status = tr == ALARM_T_RESOLVED ? "resolved" : tr == ALARM_T_CANCELED ? "ok" : to;
	struct alarm_state_row row = { tk->rule, tk->object, tk->name, (char *)alarm_state_name(tk->t.state),
				       tk->t.since_ms, tk->t.cond_since_ms, tk->t.clear_since_ms, tk->t.value };
	__do_free char *expr = alarm_expr_format(&r->e);
	struct buf detail = BUF_INIT;

	/* what it notifies is stored with it: a kill -9 before delivery loses nothing */
	__do_json json_t *outbox = tr == ALARM_T_FIRING || tr == ALARM_T_RESOLVED
		? outbox_of(r, alarm_payload(tk->rule, &r->e, status, scope_kind(tk->scope), tk->name, uuid,
					     tk->t.value, svc_cfg.host_name, now_ms,
					     tr == ALARM_T_RESOLVED ? 0 : tk->t.since_ms))
		: NULL;

	/* an event rule's "firing" is a moment: history only, no state kept */
	if (store_alarm_transition(svc_cfg.store, now_ms, tk->rule, tk->object, tk->name, from, status, tk->t.value,
				   r->e.kind == ALARM_THRESHOLD ? &row : NULL, outbox) < 0)
		log_warn("alarm '%s': cannot record the transition of %s %s to %s", tk->rule, scope_kind(tk->scope),
			 tk->name, status);
	buf_printf(&detail, "%s %s: %s %s (%s", tk->rule, status, scope_kind(tk->scope), tk->name, expr);
	if (!isnan(tk->t.value))
		buf_printf(&detail, "; value %.4g", tk->t.value);
	buf_adds(&detail, ")");
	store_event_add(svc_cfg.store, uuid, "alarm", detail.s);
	json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:s}", "type", "alarm", "alarm", tk->rule, "state", status,
			       "from", from, "object", "kind", scope_kind(tk->scope), "name", tk->name, "expr", expr);
	json_object_set_new(ev, "detail", json_string(detail.s));
	if (!isnan(tk->t.value))
		json_object_set_new(ev, "value", json_real(tk->t.value));
	events_publish_vm("alarm", uuid, uuid ? tk->name : NULL, ev);
	log_info("alarm %s", detail.s);
	buf_release(&detail);
	notify(tk->rule, outbox);
}

static bool rule_matches(const struct rule *r, const struct svc_alarm_obs *o, struct vm_record *rec, bool *have_rec)
{
	if (o->scope != r->e.scope)
		return false;
	if (o->scope == ALARM_SCOPE_POOL && r->pool_glob)
		return str_glob_match(r->pool_glob, o->name);
	if (o->scope != ALARM_SCOPE_VM || !r->has_sel)
		return true;
	if (!*have_rec) {
		if (store_vm_get(svc_cfg.store, o->id, rec) < 0)
			return false;
		*have_rec = true;
	}
	return selector_match(&r->sel, rec->def);
}

void svc_alarms_on_sample(const struct svc_alarm_obs *obs, size_t n, int64_t now_ms)
{
	size_t nrules;
	struct rule *rules = rules_load(&nrules);
	struct vm_record *recs = xcalloc(n + 1, sizeof(*recs));
	bool *have = xcalloc(n + 1, sizeof(*have));

	pthread_mutex_lock(&a_lock);
	for (size_t i = 0; i < ntracks; i++)
		tracks[i].seen = false;
	for (size_t k = 0; k < nrules; k++) {
		const struct rule *r = &rules[k];
		if (r->e.kind != ALARM_THRESHOLD)
			continue;
		int mi = (int)(r->e.metric - alarm_metrics);
		for (size_t i = 0; i < n; i++) {
			if (!rule_matches(r, &obs[i], &recs[i], &have[i]))
				continue;
			double v = r->e.percent ? obs[i].percent[mi] : obs[i].value[mi];
			struct track *tk = track_find(r->name, obs[i].id, !isnan(v));
			if (!tk)
				continue;
			tk->seen = true;
			tk->scope = obs[i].scope;
			if (strcmp(tk->name, obs[i].name) != 0) {
				free(tk->name);
				tk->name = xstrdup(obs[i].name);
			}
			if (isnan(v)) /* not measured this round (QEMU slow): the state stays */
				continue;
			enum alarm_state before = tk->t.state;
			int64_t clear_before = tk->t.clear_since_ms;
			enum alarm_transition tr = alarm_step(&tk->t, alarm_expr_holds(&r->e, v), v, r->e.for_s, now_ms);
			if (tr != ALARM_T_NONE) {
				transition(r, tk, alarm_state_name(before), tr,
					   obs[i].scope == ALARM_SCOPE_VM ? obs[i].id : NULL, now_ms);
			} else if ((clear_before == 0) != (tk->t.clear_since_ms == 0)) {
				/* firing, and the condition ended or came back: kept so a restart keeps the hysteresis */
				struct alarm_state_row row = { tk->rule, tk->object, tk->name, "firing", tk->t.since_ms,
							       tk->t.cond_since_ms, tk->t.clear_since_ms, v };
				store_alarm_state_put(svc_cfg.store, &row);
			}
		}
	}
	/* pairs not seen: their object is gone (VM stopped, pool removed), or their rule */
	for (size_t i = 0; i < ntracks;) {
		struct track *tk = &tracks[i];
		const struct rule *r = NULL;
		for (size_t k = 0; k < nrules && !r; k++)
			if (strcmp(rules[k].name, tk->rule) == 0)
				r = &rules[k];
		if (r && r->e.kind == ALARM_THRESHOLD && !tk->seen) {
			enum alarm_state before = tk->t.state;
			tk->scope = r->e.scope; /* the rule's, whatever the stored row suggested */
			enum alarm_transition tr = alarm_gone(&tk->t, now_ms);
			if (tr != ALARM_T_NONE)
				transition(r, tk, alarm_state_name(before), tr, tk->scope == ALARM_SCOPE_VM ? tk->object : NULL,
					   now_ms);
		}
		if (!r || (!tk->seen && tk->t.state == ALARM_OK))
			track_drop(i);
		else
			i++;
	}
	pthread_mutex_unlock(&a_lock);
	for (size_t i = 0; i < n; i++)
		if (have[i])
			vm_record_release(&recs[i]);
	free(recs);
	free(have);
	rules_free(rules, nrules);
}

/* ---- event rules ---- */

static bool str_eq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* Which event rule an event of the bus is, if any. */
static int event_match(const json_t *ev, enum alarm_event *out)
{
	const char *kind = json_string_value(json_object_get(ev, "kind"));
	if (!kind)
		return -1;
	if (strcmp(kind, "state") == 0 && str_eq(json_string_value(json_object_get(ev, "state")), "crashed")) {
		*out = ALARM_EV_VM_CRASHED;
		return 0;
	}
	if (strcmp(kind, "job") == 0) {
		const json_t *job = json_object_get(ev, "job");
		const char *type = json_string_value(json_object_get(job, "type"));
		if (type && strstr(type, "backup") && str_eq(json_string_value(json_object_get(job, "state")), "failed")) {
			*out = ALARM_EV_BACKUP_FAILED;
			return 0;
		}
	}
	if (strcmp(kind, "ha") == 0 && str_eq(json_string_value(json_object_get(ev, "action")), "restarted")) {
		*out = ALARM_EV_HA_RESTARTED;
		return 0;
	}
	if (strcmp(kind, "quorum") == 0 && json_is_false(json_object_get(ev, "quorate"))) {
		*out = ALARM_EV_HOST_LOST_QUORUM;
		return 0;
	}
	return -1;
}

static bool on_bus(const json_t *ev, void *opaque)
{
	enum alarm_event e;
	(void)opaque;
	if (ev && event_match(ev, &e) == 0) {
		struct qitem *q = xcalloc(1, sizeof(*q));
		q->kind = Q_EVENT;
		q->event = json_deep_copy(ev);
		q->due_ms = time_mono_ms();
		q_push(q);
	}
	return true;
}

/* On the worker thread: the event rules an event fires. */
static void event_rules(const json_t *ev)
{
	enum alarm_event which;
	size_t nrules;
	int64_t now = time_wall_ms();
	const char *uuid = json_string_value(json_object_get(ev, "vm"));
	const char *name = json_string_value(json_object_get(ev, "name"));
	struct vm_record rec = { 0 };
	bool have = false;

	if (event_match(ev, &which) < 0)
		return;
	struct rule *rules = rules_load(&nrules);
	pthread_mutex_lock(&a_lock);
	for (size_t k = 0; k < nrules; k++) {
		const struct rule *r = &rules[k];
		if (r->e.kind != ALARM_EVENT || r->e.event != which)
			continue;
		struct svc_alarm_obs o = { .scope = r->e.scope };
		o.id = r->e.scope == ALARM_SCOPE_VM ? (uuid ? uuid : "") : "host";
		o.name = r->e.scope == ALARM_SCOPE_VM ? (name ? name : "") : (svc_cfg.host_name ? svc_cfg.host_name : "");
		if (r->e.scope == ALARM_SCOPE_VM && (!uuid || !rule_matches(r, &o, &rec, &have)))
			continue;
		struct track tk = { (char *)r->name, (char *)o.id, (char *)o.name, r->e.scope,
				    { ALARM_FIRING, now, now, 0, NAN }, true };
		/* an event is a moment, not a state: history ok -> firing, nothing kept */
		transition(r, &tk, "ok", ALARM_T_FIRING, r->e.scope == ALARM_SCOPE_VM ? uuid : NULL, now);
	}
	pthread_mutex_unlock(&a_lock);
	if (have)
		vm_record_release(&rec);
	rules_free(rules, nrules);
}

/* ---- the worker ---- */

static void *w_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&q_lock);
	while (!q_stop) {
		int64_t now = time_mono_ms(), next = -1;
		struct qitem **p, *q = NULL;
		for (p = &queue; *p; p = &(*p)->next) {
			if ((*p)->due_ms <= now) {
				q = *p;
				*p = q->next;
				qlen--;
				break;
			}
			if (next < 0 || (*p)->due_ms < next)
				next = (*p)->due_ms;
		}
		if (!q) {
			if (next < 0) {
				pthread_cond_wait(&q_cond, &q_lock);
			} else {
				struct timespec ts = time_realtime_in(next - now); /* q_cond's clock */
				pthread_cond_timedwait(&q_cond, &q_lock, &ts);
			}
			continue;
		}
		pthread_mutex_unlock(&q_lock);
		if (q->kind == Q_EVENT) {
			event_rules(q->event);
			qitem_free(q);
		} else {
			struct buf err = BUF_INIT;
			if (svc_alarm_send_one(q->rule, q->target, q->smtp, q->payload, &err) == 0) {
				log_debug("alarm '%s': notification sent", q->rule);
				if (q->id)
					store_alarm_outbox_done(svc_cfg.store, q->id);
				qitem_free(q);
			} else if (++q->attempt >= ALARM_RETRIES) {
				log_warn("alarm '%s': a notification failed %d times, given up: %s", q->rule, q->attempt,
					 err.s);
				if (q->id)
					store_alarm_outbox_done(svc_cfg.store, q->id);
				qitem_free(q);
			} else {
				log_info("alarm '%s': a notification failed (attempt %d of %d), retrying: %s", q->rule,
					 q->attempt, ALARM_RETRIES, err.s);
				if (q->id)
					store_alarm_outbox_retry(svc_cfg.store, q->id, q->attempt);
				q->due_ms = time_mono_ms() + (1000LL << (q->attempt - 1));
				pthread_mutex_lock(&q_lock);
				q->next = queue;
				queue = q;
				qlen++;
				pthread_mutex_unlock(&q_lock);
			}
			buf_release(&err);
		}
		pthread_mutex_lock(&q_lock);
	}
	pthread_mutex_unlock(&q_lock);
	return NULL;
}

int svc_alarms_start(struct buf *err)
{
	struct alarm_state_row *rows = NULL;
	size_t n = 0;
	__do_free char *dir = xasprintf("%s/alarms", svc_cfg.state_dir);
	int r;

	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	pthread_mutex_lock(&a_lock);
	if (store_alarm_state_list(svc_cfg.store, &rows, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			enum alarm_state st;
			if (alarm_state_parse(rows[i].state, &st) < 0)
				continue;
			struct track *tk = track_find(rows[i].rule, rows[i].object, true);
			free(tk->name);
			tk->name = xstrdup(rows[i].name ? rows[i].name : "");
			tk->scope = rows[i].object && strcmp(rows[i].object, "host") == 0 ? ALARM_SCOPE_HOST
				    : strlen(rows[i].object) == 36 ? ALARM_SCOPE_VM
								    : ALARM_SCOPE_POOL;
			tk->t = (struct alarm_track){ st, rows[i].since, rows[i].cond_since, rows[i].clear_since,
						      rows[i].value };
		}
		store_alarm_state_list_free(rows, n);
	}
	pthread_mutex_unlock(&a_lock);
	q_stop = false;
	if ((r = pthread_create(&w_thread, NULL, w_main, NULL)) != 0) {
		buf_adds(err, "cannot start the alarm notification worker");
		return -r;
	}
	pthread_mutex_lock(&q_lock);
	w_running = true;
	pthread_mutex_unlock(&q_lock);
	bus_sub = events_subscribe(on_bus, NULL, NULL);
	/* what a stopped or killed corrald had not delivered yet */
	__do_json json_t *left = store_alarm_outbox_list(svc_cfg.store);
	if (json_array_size(left)) {
		log_info("alarms: %zu notification%s from before the restart, sending", json_array_size(left),
			 json_array_size(left) > 1 ? "s" : "");
		notify(NULL, left);
	}
	return 0;
}

void svc_alarms_stop(void)
{
	if (!w_running)
		return;
	if (bus_sub > 0)
		events_unsubscribe(bus_sub);
	bus_sub = 0;
	pthread_mutex_lock(&q_lock);
	q_stop = true;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
	pthread_join(w_thread, NULL);
	pthread_mutex_lock(&q_lock);
	w_running = false;
	size_t waiting = 0;
	for (struct qitem *q = queue; q; q = q->next)
		waiting += q->kind == Q_NOTIFY;
	if (waiting)
		log_info("alarms: %zu notification%s not sent yet, kept for the next start", waiting,
			 waiting > 1 ? "s" : "");
	while (queue) {
		struct qitem *q = queue;
		queue = q->next;
		qitem_free(q);
	}
	qlen = 0;
	pthread_mutex_unlock(&q_lock);
	pthread_mutex_lock(&a_lock);
	tracks_free();
	pthread_mutex_unlock(&a_lock);
}

json_t *svc_alarm_states(const char *rule)
{
	json_t *a = json_array();
	char when[40];
	pthread_mutex_lock(&a_lock);
	for (size_t i = 0; i < ntracks; i++) {
		const struct track *tk = &tracks[i];
		if (strcmp(tk->rule, rule) != 0 || tk->t.state == ALARM_OK)
			continue;
		json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "kind", scope_kind(tk->scope), "name", tk->name, "state",
				      alarm_state_name(tk->t.state), "since",
				      time_fmt_rfc3339(tk->t.since_ms, when, sizeof(when)));
		if (tk->scope == ALARM_SCOPE_VM)
			json_object_set_new(o, "uuid", json_string(tk->object));
		if (!isnan(tk->t.value))
			json_object_set_new(o, "value", json_real(tk->t.value));
		if (tk->t.clear_since_ms)
			json_object_set_new(o, "clear_since",
					    json_string(time_fmt_rfc3339(tk->t.clear_since_ms, when, sizeof(when))));
		json_array_append_new(a, o);
	}
	pthread_mutex_unlock(&a_lock);
	return a;
}
