/*
 * poolview.c - see poolview.h: the pool's VMs in one list, a VM's owner
 * found among the members, and a request handed on to it.  The members are
 * the cluster definition's nodes (cluster_internal.h), online when they are
 * in this host's corosync ring (cluster/membership.h); each is called as a
 * trusted host (peer.h) on a thread of its own, so the slowest member costs
 * the whole answer at most POOLVIEW_TIMEOUT_MS.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <uuid/uuid.h>

#include "service/poolview.h"
#include "service/cluster_internal.h"
#include "service/internal.h"
#include "cluster/membership.h"
#include "core/select.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"

/* One member asked: what, and what it said. */
struct ask {
	char name[CLUSTER_NODE_NAME_MAX + 1];
	bool online;
	const char *path; /* the call (GET) */
	const char *user; /* on whose behalf, or NULL */
	long timeout_ms;  /* TCP + TLS, and the whole call */
	json_t *reply;    /* 2xx: its JSON */
	char *error;      /* else why not */
	pthread_t thread;
	bool started;
};

bool svc_poolview_in_pool(char *me)
{
	struct cluster_def d;
	char self[CLUSTER_NODE_NAME_MAX + 1];
	bool in = svc_cluster_def_get(&d, self);
	if (in && me)
		memcpy(me, self, sizeof(self));
	return in;
}

bool svc_poolview_is_member(const char *name)
{
	struct cluster_def d;
	return name && svc_cluster_def_get(&d, NULL) && cluster_def_node(&d, name);
}

/* The other nodes of the pool, each marked online or not (xcalloc'd; *n of them); false: in no pool. */
static bool members(struct ask **out, size_t *n)
{
	struct cluster_def d;
	struct membership_view v;
	char me[CLUSTER_NODE_NAME_MAX + 1];

	*out = NULL;
	*n = 0;
	if (!svc_cluster_def_get(&d, me))
		return false;
	membership_get(&v);
	*out = xcalloc(d.nnodes ? d.nnodes : 1, sizeof(**out));
	for (unsigned i = 0; i < d.nnodes; i++) {
		if (strcmp(d.nodes[i].name, me) == 0)
			continue;
		struct ask *a = &(*out)[(*n)++];
		snprintf(a->name, sizeof(a->name), "%s", d.nodes[i].name);
		a->online = v.connected && membership_has(&v, d.nodes[i].id);
	}
	return true;
}

static int open_member(const char *name, const char *user, long connect_ms, long total_ms, struct peer **p,
		       struct buf *err)
{
	int r = peer_open(name, p, err);
	if (r < 0)
		return r;
	peer_set_timeout(*p, connect_ms, total_ms);
	if (user)
		peer_add_header(*p, POOLVIEW_USER_HEADER, user);
	return 0;
}

static void *ask_main(void *arg)
{
	struct ask *a = arg;
	struct peer *p = NULL;
	struct buf err = BUF_INIT;

	if (open_member(a->name, a->user, a->timeout_ms, a->timeout_ms, &p, &err) < 0 ||
	    peer_call(p, "GET", a->path, NULL, &a->reply, NULL, &err) < 0)
		a->error = xstrdup(err.len ? err.s : "no answer");
	peer_close(p);
	buf_release(&err);
	return NULL;
}

/* Ask every online member GET path (on behalf of user) at once, each within timeout_ms; offline ones
 * get their error without a call. */
static void ask_all(struct ask *list, size_t n, const char *path, const char *user, long timeout_ms)
{
	for (size_t i = 0; i < n; i++) {
		list[i].path = path;
		list[i].user = user;
		list[i].timeout_ms = timeout_ms;
		if (!list[i].online) {
			list[i].error = xstrdup("offline: not in this host's corosync ring");
			continue;
		}
		list[i].started = pthread_create(&list[i].thread, NULL, ask_main, &list[i]) == 0;
		if (!list[i].started)
			ask_main(&list[i]); /* no thread: ask it here */
	}
	for (size_t i = 0; i < n; i++)
		if (list[i].started)
			pthread_join(list[i].thread, NULL);
}

static void asks_free(struct ask *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		json_decref(list[i].reply);
		free(list[i].error);
	}
	free(list);
}

json_t *svc_poolview_vm_list(json_t *local, const char *select, const char *user)
{
	char me[CLUSTER_NODE_NAME_MAX + 1];
	struct ask *list = NULL;
	size_t n = 0;
	json_t *vms, *vm, *unreachable, *errors;
	size_t i;

	if (!local || !svc_poolview_in_pool(me) || !members(&list, &n))
		return local;
	vms = json_object_get(local, "vms");
	json_array_foreach(vms, i, vm)
		json_object_set_new(vm, "host", json_string(me));

	__do_free char *enc = select ? str_url_encode(select) : NULL;
	__do_free char *path = xasprintf("/v1/vms?scope=local%s%s", enc ? "&select=" : "", enc ? enc : "");
	ask_all(list, n, path, user, POOLVIEW_TIMEOUT_MS);
	unreachable = json_array();
	errors = json_array();
	for (size_t k = 0; k < n; k++) {
		json_t *theirs = json_object_get(list[k].reply, "vms");
		if (list[k].error || !json_is_array(theirs)) {
			json_array_append_new(unreachable, json_string(list[k].name));
			json_array_append_new(errors, json_pack("{s:s,s:s}", "host", list[k].name, "error",
								list[k].error ? list[k].error : "answered without a VM list"));
			continue;
		}
		json_array_foreach(theirs, i, vm) {
			json_object_set_new(vm, "host", json_string(list[k].name));
			json_array_append(vms, vm);
		}
	}
	json_object_set_new(local, "unreachable", unreachable);
	json_object_set_new(local, "host_errors", errors);
	asks_free(list, n);
	return local;
}

/* sel names at most one VM by a name or uuid that could exist (anything else is never sent to another host). */
static int owner_selector_check(const char *sel, struct buf *err)
{
	uuid_t u;
	const char *bad;

	if (sel && strncmp(sel, "uuid:", 5) == 0) {
		if (uuid_parse(sel + 5, u) == 0)
			return 0;
		buf_adds(err, "'uuid:' must be followed by a VM's uuid");
		return -EINVAL;
	}
	if (sel && uuid_parse(sel, u) == 0)
		return 0;
	if (!sel || (bad = str_name_invalid(sel))) {
		buf_adds(err, "not a VM name (");
		buf_add_printable(err, sel ? sel : "", sel ? strlen(sel) : 0);
		buf_printf(err, "): %s; nothing was asked of the other hosts", sel ? bad : "missing");
		return -EINVAL;
	}
	return 0;
}

/* svc_poolview_vm_owner, also counting the members not asked or that did not answer into *unasked. */
static int owner_find(const char *sel, char *host, size_t len, size_t *unasked, struct buf *err)
{
	struct ask *list = NULL;
	size_t n = 0, found = 0;
	struct buf where = BUF_INIT, missing = BUF_INIT;
	const char *owner = NULL;
	int r;

	if ((r = owner_selector_check(sel, err)) < 0)
		return r;
	if (!members(&list, &n)) {
		buf_printf(err, "vm '%s' not found", sel);
		return -ENOENT;
	}
	__do_free char *enc = str_url_encode(sel);
	__do_free char *path = xasprintf("/v1/vms?scope=local&select=%s", enc);
	ask_all(list, n, path, NULL, POOLVIEW_OWNER_TIMEOUT_MS);
	for (size_t k = 0; k < n; k++) {
		json_t *vms = json_object_get(list[k].reply, "vms"), *vm;
		size_t i;
		if (list[k].error) {
			buf_printf(&missing, "%s%s", missing.len ? ", " : "", list[k].name);
			(*unasked)++;
			continue;
		}
		json_array_foreach(vms, i, vm) {
			const char *uuid = json_string_value(json_object_get(vm, "uuid"));
			buf_printf(&where, "%s%s (uuid %s)", where.len ? ", " : "", list[k].name, uuid ? uuid : "?");
			if (!owner || strcmp(owner, list[k].name) != 0)
				found++;
			owner = list[k].name;
		}
	}
	if (found == 1) {
		snprintf(host, len, "%s", owner);
		r = 0;
	} else if (found > 1) {
		buf_printf(err, "vm '%s' is ambiguous: it is on several hosts of the pool: %s; name it by uuid", sel,
			   where.s);
		r = -EEXIST;
	} else {
		buf_printf(err, "vm '%s' not found on this host nor on any member of the pool that answered", sel);
		if (missing.len)
			buf_printf(err, " (not asked or no answer: %s)", missing.s);
		r = -ENOENT;
	}
	buf_release(&where);
	buf_release(&missing);
	asks_free(list, n);
	return r;
}

int svc_poolview_vm_owner(const char *sel, char *host, size_t len, struct buf *err)
{
	size_t unasked = 0;
	return owner_find(sel, host, len, &unasked, err);
}

int svc_poolview_name_free(const char *name, struct buf *err)
{
	char host[CLUSTER_NODE_NAME_MAX + 1];
	struct buf e __do_buf = BUF_INIT;
	size_t unasked = 0;

	/* -EINVAL: a bad name, which the caller refuses itself; -ENOENT: nobody has it, or in no pool */
	int r = owner_find(name, host, sizeof(host), &unasked, &e);
	if (r == 0) {
		buf_printf(err, "a vm named '%s' exists on %s, another host of this pool: VM names are unique in a pool; "
				"choose another name",
			   name, host);
		return -EEXIST;
	}
	if (r == -EEXIST) {
		buf_printf(err, "a vm named '%s' exists on other hosts of this pool: VM names are unique in a pool; "
				"choose another name (%s)",
			   name, e.s);
		return -EEXIST;
	}
	if (r == -ENOENT && unasked)
		log_warn("vm name '%s' taken as free in the pool without every member's word: %s", name, e.s);
	return 0;
}

int svc_poolview_forward(const char *host, const char *method, const char *path, const char *body, size_t len,
			 const char *content_type, const char *user, const char *if_match, struct peer_raw_reply *out,
			 struct buf *err)
{
	struct peer *p = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	out->body = (struct buf)BUF_INIT;
	if (!svc_poolview_is_member(host)) {
		buf_printf(err, "'%.64s' is not a host of this pool", host ? host : "");
		return -ENOENT;
	}
	if ((r = open_member(host, user, POOLVIEW_FORWARD_CONNECT_MS, POOLVIEW_FORWARD_TIMEOUT_MS, &p, err)) < 0)
		return r;
	if (if_match)
		peer_add_header(p, "If-Match", if_match);
	r = peer_call_raw(p, method, path, body, len, content_type, out, err);
	peer_close(p);
	return r;
}
