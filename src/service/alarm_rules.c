/*
 * alarm_rules.c - the alarm rules' side of the API (see alarms.h): a rule
 * is checked as a whole before anything is written (the expression, the
 * selector for its scope, every target, the SMTP settings), so a refused
 * change leaves the store and the password file as they were; `alarm
 * test` sends through every target at once and says how each went.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "service/alarms.h"
#include "service/alarm_internal.h"
#include "service/alarm_notify.h"
#include "service/internal.h"
#include "core/select.h"
#include "core/store.h"
#include "core/store_local.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define URL_MAX 2048
#define SECRET_MAX 1024

static bool addr_valid(const char *a)
{
	size_t n = a ? strlen(a) : 0;
	const char *at = a ? strchr(a, '@') : NULL;
	if (!n || n > 254 || !at || at == a || !at[1] || strchr(at + 1, '@'))
		return false;
	for (const char *p = a; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("._%+-@", *p)))
			return false;
	return true;
}

/* A URL with one of the schemes and a host; no whitespace, no control characters. */
static bool url_valid(const char *u, const char *const *schemes)
{
	size_t n = u ? strlen(u) : 0;
	if (!n || n > URL_MAX || str_has_control(u) || strpbrk(u, " \t"))
		return false;
	for (size_t i = 0; schemes[i]; i++) {
		size_t sl = strlen(schemes[i]);
		if (strncmp(u, schemes[i], sl) == 0 && u[sl] && !strchr("/?#", u[sl]))
			return true;
	}
	return false;
}

static int target_check(const char *t, bool *mail, struct buf *err)
{
	static const char *const web[] = { "http://", "https://", NULL };
	if (t && strncmp(t, "mailto:", 7) == 0) {
		const char *p = t + 7;
		if (!*p)
			goto bad;
		while (*p) {
			size_t n = strcspn(p, ",");
			__do_free char *a = xstrndup(p, n);
			if (!addr_valid(a)) {
				buf_printf(err, "invalid notify target: '%.64s' is not a mail address", a);
				return -EINVAL;
			}
			p += n + (p[n] == ',');
		}
		*mail = true;
		return 0;
	}
	if (url_valid(t, web))
		return 0;
bad:
	buf_adds(err, "invalid notify target: want an http:// or https:// URL (a webhook) or mailto:ADDR[,ADDR...]");
	return -EINVAL;
}

/* The rule def (after merging) checked as a whole; *e parsed. */
static int def_check(json_t *def, struct alarm_expr *e, bool *need_smtp, struct buf *err)
{
	static const char *const keys[] = { "name", "when", "on", "notify", "smtp", NULL };
	static const char *const smtp_keys[] = { "url", "from", "user", "password", "password_set", NULL };
	static const char *const smtp_schemes[] = { "smtp://", "smtps://", NULL };
	const json_t *on = json_object_get(def, "on"), *notify = json_object_get(def, "notify"),
		     *smtp = json_object_get(def, "smtp"), *t;
	size_t i;
	int r;

	if ((r = json_check_keys(def, "alarm", keys, err)) < 0)
		return r;
	if (!json_is_string(json_object_get(def, "when"))) {
		buf_adds(err, "alarm: 'when' (the condition, e.g. 'cpu > 90% for 5m') is required");
		return -EINVAL;
	}
	if ((r = alarm_expr_parse(json_string_value(json_object_get(def, "when")), e, err)) < 0)
		return r;
	if (on && !json_is_null(on)) {
		const char *s = json_string_value(on);
		if (!s) {
			buf_adds(err, "alarm: 'on' must be a string");
			return -EINVAL;
		}
		if (e->scope == ALARM_SCOPE_HOST) {
			buf_printf(err, "alarm: '%s' watches the host: it takes no 'on'", json_string_value(json_object_get(def, "when")));
			return -EINVAL;
		}
		if (e->scope == ALARM_SCOPE_VM) {
			struct selector sel;
			if (selector_parse(s, &sel, err) < 0)
				return -EINVAL;
			selector_release(&sel);
		} else {
			const char *g = strncmp(s, "name:", 5) == 0 ? s + 5 : s;
			if (!*g || strlen(g) > 255 || str_has_control(g) || strchr(g, '/')) {
				buf_adds(err, "alarm: 'on' of a pool rule is a pool name or name:GLOB");
				return -EINVAL;
			}
		}
	}
	if (notify && !json_is_array(notify)) {
		buf_adds(err, "alarm: 'notify' must be an array of targets");
		return -EINVAL;
	}
	if (json_array_size(notify) > ALARM_TARGETS_MAX) {
		buf_printf(err, "alarm: at most %d notify targets", ALARM_TARGETS_MAX);
		return -EINVAL;
	}
	*need_smtp = false;
	json_array_foreach(notify, i, t) {
		if (!json_is_string(t)) {
			buf_adds(err, "alarm: each notify target must be a string");
			return -EINVAL;
		}
		if ((r = target_check(json_string_value(t), need_smtp, err)) < 0)
			return r;
	}
	if (smtp && !json_is_null(smtp)) {
		const char *url = json_string_value(json_object_get(smtp, "url"));
		const char *from = json_string_value(json_object_get(smtp, "from"));
		const json_t *user = json_object_get(smtp, "user"), *pw = json_object_get(smtp, "password");
		if (!json_is_object(smtp) || (r = json_check_keys(smtp, "alarm smtp", smtp_keys, err)) < 0) {
			if (!err->len)
				buf_adds(err, "alarm: 'smtp' must be an object");
			return -EINVAL;
		}
		if (!url_valid(url, smtp_schemes)) {
			buf_adds(err, "alarm smtp: 'url' must be smtp://HOST[:PORT] or smtps://HOST[:PORT]");
			return -EINVAL;
		}
		if (!addr_valid(from)) {
			buf_adds(err, "alarm smtp: 'from' must be a mail address");
			return -EINVAL;
		}
		if (user && !json_is_null(user) &&
		    (!json_is_string(user) || !json_string_length(user) || json_string_length(user) > 128 ||
		     str_has_control(json_string_value(user)))) {
			buf_adds(err, "alarm smtp: 'user' must be 1 to 128 printable characters");
			return -EINVAL;
		}
		if (pw && !json_is_null(pw) &&
		    (!json_is_string(pw) || json_string_length(pw) > SECRET_MAX || str_has_control(json_string_value(pw)))) {
			buf_printf(err, "alarm smtp: 'password' must be at most %d printable characters", SECRET_MAX);
			return -EINVAL;
		}
	} else if (*need_smtp) {
		buf_adds(err, "alarm: a mailto: target needs 'smtp' settings (url and from)");
		return -EINVAL;
	}
	return 0;
}

/* The answer for a rule: its definition, never the password, with its objects' states. */
static json_t *rule_json(const char *name, const char *text, int64_t created)
{
	json_t *def = json_loads(text, 0, NULL);
	char when[40];
	struct alarm_expr e;
	struct buf err = BUF_INIT;
	if (!json_is_object(def)) {
		json_decref(def);
		def = json_object();
	}
	json_object_set_new(def, "name", json_string(name));
	if (alarm_expr_parse(json_string_value(json_object_get(def, "when")), &e, &err) == 0) {
		json_object_set_new(def, "kind", json_string(e.kind == ALARM_EVENT ? "event" : "threshold"));
		json_object_set_new(def, "scope", json_string(e.scope == ALARM_SCOPE_VM	  ? "vm"
							      : e.scope == ALARM_SCOPE_POOL ? "pool"
											    : "host"));
	} else {
		json_object_set_new(def, "error", json_string(err.s));
	}
	buf_release(&err);
	if (!json_object_get(def, "notify"))
		json_object_set_new(def, "notify", json_array());
	json_object_set_new(def, "created", json_string(time_fmt_rfc3339(created, when, sizeof(when))));
	json_t *states = svc_alarm_states(name);
	size_t firing = 0, i;
	json_t *s;
	json_array_foreach(states, i, s)
		firing += strcmp(json_string_value(json_object_get(s, "state")), "firing") == 0;
	json_object_set_new(def, "state", json_string(firing ? "firing" : json_array_size(states) ? "pending" : "ok"));
	json_object_set_new(def, "objects", states);
	return def;
}

json_t *svc_alarm_list(void)
{
	struct alarm_record *list = NULL;
	size_t n = 0;
	json_t *a = json_array();
	if (store_alarm_list(svc_cfg.store, &list, &n) == 0)
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, rule_json(list[i].name, list[i].def, list[i].created));
	store_alarm_list_free(list, n);
	return a;
}

int svc_alarm_get(const char *name, json_t **out, struct buf *err)
{
	struct alarm_record rec = { 0 };
	int r = store_alarm_get(svc_cfg.store, name, &rec);
	if (r < 0) {
		buf_printf(err, r == -ENOENT ? "alarm '%s' not found" : "cannot read alarm '%s'", name);
		return r;
	}
	*out = rule_json(rec.name, rec.def, rec.created);
	alarm_record_release(&rec);
	return 0;
}

int svc_alarm_put(const char *name, const json_t *body, bool create, json_t **out, struct buf *err)
{
	struct alarm_record rec = { 0 };
	struct alarm_expr e;
	bool need_smtp = false, had_pw = false;
	const char *bad = NULL;
	int r;

	if (!name || (bad = str_name_invalid(name))) {
		buf_printf(err, "invalid alarm name: %s", bad ? bad : "missing");
		return -EINVAL;
	}
	if (!json_is_object(body)) {
		buf_adds(err, "alarm: the body must be a JSON object");
		return -EINVAL;
	}
	const char *bname = json_string_value(json_object_get(body, "name"));
	if (json_object_get(body, "name") && (!bname || strcmp(bname, name) != 0)) {
		buf_adds(err, "alarm: 'name' cannot be changed");
		return -EINVAL;
	}
	r = store_alarm_get(svc_cfg.store, name, &rec);
	if (r < 0 && r != -ENOENT) {
		buf_printf(err, "cannot read alarm '%s'", name);
		return r;
	}
	if (create && r == 0) {
		alarm_record_release(&rec);
		buf_printf(err, "alarm '%s' already exists", name);
		return -EEXIST;
	}
	if (!create && r == -ENOENT) {
		buf_printf(err, "alarm '%s' not found", name);
		return -ENOENT;
	}
	__do_json json_t *def = rec.def ? json_loads(rec.def, 0, NULL) : json_object();
	alarm_record_release(&rec);
	if (!json_is_object(def)) {
		json_decref(def);
		def = json_object();
	}
	had_pw = json_is_true(json_object_get(json_object_get(def, "smtp"), "password_set"));
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
		json_object_set(def, key, v);
	json_object_del(def, "name");
	if ((r = def_check(def, &e, &need_smtp, err)) < 0)
		return r;
	/* canonical: the expression as alarm show prints it; null members dropped */
	__do_free char *canon = alarm_expr_format(&e);
	json_object_set_new(def, "when", json_string(canon));
	if (json_is_null(json_object_get(def, "on")))
		json_object_del(def, "on");
	json_t *smtp = json_object_get(def, "smtp");
	__do_free char *password = NULL;
	bool drop_pw = false;
	if (json_is_null(smtp)) {
		json_object_del(def, "smtp");
		drop_pw = had_pw;
	} else if (smtp) {
		json_t *pw = json_object_get(smtp, "password");
		if (json_is_string(pw) && json_string_length(pw))
			password = xstrdup(json_string_value(pw));
		else if (pw) /* "" or null: no password any more */
			drop_pw = had_pw;
		bool keep = !pw && (had_pw || json_is_true(json_object_get(smtp, "password_set")));
		json_object_del(smtp, "password");
		json_object_set_new(smtp, "password_set", json_boolean(password || (keep && had_pw)));
		if (json_is_null(json_object_get(smtp, "user")))
			json_object_del(smtp, "user");
	}
	__do_free char *path = svc_alarm_secret_path(name);
	struct buf old = BUF_INIT;
	if (password) {
		fs_read_file(path, SECRET_MAX + 2, &old);
		if ((r = fs_write_file_atomic(path, password, strlen(password), 0600)) < 0) {
			buf_printf(err, "cannot keep the SMTP password of alarm '%s': %s", name, strerror(-r));
			buf_release(&old);
			explicit_bzero(password, strlen(password));
			return r;
		}
		explicit_bzero(password, strlen(password));
	}
	__do_free char *text = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
	if ((r = store_alarm_put(svc_cfg.store, name, text)) < 0) {
		if (store_commit_refusal(r))
			buf_adds(err, store_commit_refusal(r));
		else
			buf_printf(err, "cannot store alarm '%s'", name);
		if (password && old.s)
			fs_write_file_atomic(path, old.s, old.len, 0600);
		else if (password)
			unlink(path);
		if (old.s)
			explicit_bzero(old.s, old.len);
		buf_release(&old);
		return r;
	}
	if (old.s)
		explicit_bzero(old.s, old.len);
	buf_release(&old);
	if (drop_pw)
		unlink(path);
	return svc_alarm_get(name, out, err);
}

int svc_alarm_delete(const char *name, struct buf *err)
{
	int r = store_alarm_delete(svc_cfg.store, name);
	if (r < 0) {
		if (store_commit_refusal(r))
			buf_adds(err, store_commit_refusal(r));
		else
			buf_printf(err, r == -ENOENT ? "alarm '%s' not found" : "cannot delete alarm '%s'", name);
		return r;
	}
	__do_free char *path = svc_alarm_secret_path(name);
	unlink(path);
	return 0;
}

int svc_alarm_test(const char *name, json_t **out, struct buf *err)
{
	struct alarm_record rec = { 0 };
	struct alarm_expr e;
	int r = store_alarm_get(svc_cfg.store, name, &rec), failed = 0;
	struct buf first = BUF_INIT;
	json_t *t;
	size_t i;

	if (r < 0) {
		buf_printf(err, r == -ENOENT ? "alarm '%s' not found" : "cannot read alarm '%s'", name);
		return r;
	}
	__do_json json_t *def = json_loads(rec.def, 0, NULL);
	alarm_record_release(&rec);
	if ((r = alarm_expr_parse(json_string_value(json_object_get(def, "when")), &e, err)) < 0)
		return r;
	if (!json_array_size(json_object_get(def, "notify"))) {
		buf_printf(err, "alarm '%s' has no notify targets", name);
		return -EINVAL;
	}
	__do_json json_t *payload = alarm_payload(name, &e, "test", e.scope == ALARM_SCOPE_VM ? "vm"
								    : e.scope == ALARM_SCOPE_POOL ? "pool"
												  : "host",
						  "test", NULL, NAN, svc_cfg.host_name, time_wall_ms(), 0);
	json_t *results = json_array();
	json_array_foreach(json_object_get(def, "notify"), i, t) {
		struct buf e2 = BUF_INIT;
		const char *target = json_string_value(t);
		int rr = svc_alarm_send_one(name, target, json_object_get(def, "smtp"), payload, &e2);
		json_t *res = json_pack("{s:s,s:b}", "target", strncmp(target, "mailto:", 7) == 0 ? target : "webhook",
					"ok", rr == 0);
		if (strncmp(target, "mailto:", 7) != 0) {
			__do_free char *host = alarm_url_host(target);
			json_object_set_new(res, "target", json_sprintf("webhook %s", host));
		}
		if (rr < 0) {
			json_object_set_new(res, "error", json_string(e2.s));
			if (!failed++)
				buf_adds(&first, e2.s);
		}
		json_array_append_new(results, res);
		buf_release(&e2);
	}
	*out = json_pack("{s:s,s:o}", "alarm", name, "results", results);
	if (failed) {
		buf_printf(err, "alarm '%s': %d of %zu test notifications failed: %s", name, failed,
			   json_array_size(json_object_get(def, "notify")), first.s);
		buf_release(&first);
		return -EREMOTEIO;
	}
	buf_release(&first);
	return 0;
}

int svc_alarm_history(const char *name, int limit, json_t **out, struct buf *err)
{
	(void)err;
	*out = json_pack("{s:o}", "history", store_alarm_history(svc_cfg.store, name, limit));
	return 0;
}
