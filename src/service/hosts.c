/*
 * hosts.c - see hosts.h: `corral host list`.  This host's VMs and pools come
 * from its own store; every trusted host is asked (GET /v1/vms, then GET
 * /v1/pools, over mutual TLS: peer.h) on a thread of its own with short
 * timeouts, so one dead or hung host costs the list at most its timeouts,
 * not a stall.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "service/hosts.h"
#include "service/peer.h"
#include "service/pool.h"
#include "service/vm.h"
#include "service/internal.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

struct host_probe {
	char *name;
	json_t *out; /* filled by the thread */
	pthread_t thread;
	bool started;
};

/* Keep what a list shows of a VM. */
static json_t *vm_brief(const json_t *vms)
{
	json_t *arr = json_array(), *vm;
	size_t i;
	json_array_foreach(vms, i, vm) {
		json_t *b = json_object();
		static const char *const keys[] = { "name", "state", "cpus", "memory_mib", "uuid" };
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			json_t *v = json_object_get(vm, keys[k]);
			if (v)
				json_object_set(b, keys[k], v);
		}
		json_array_append_new(arr, b);
	}
	return arr;
}

static json_t *pool_brief(const json_t *pools)
{
	json_t *arr = json_array(), *p;
	size_t i;
	json_array_foreach(pools, i, p)
		json_array_append_new(arr, json_pack("{s:O?,s:O?,s:O?}", "name", json_object_get(p, "name"), "path",
						     json_object_get(p, "path"), "shared", json_object_get(p, "shared")));
	return arr;
}

static void *probe_main(void *arg)
{
	struct host_probe *hp = arg;
	struct peer *p = NULL;
	struct buf err = BUF_INIT;
	json_t *vms = NULL, *pools = NULL;
	int64_t t0 = time_mono_ms();
	int r;

	hp->out = json_pack("{s:s,s:b}", "name", hp->name, "self", 0);
	if ((r = peer_open(hp->name, &p, &err)) == 0) {
		json_object_set_new(hp->out, "url", json_string(peer_url(p)));
		peer_set_timeout(p, HOSTS_CONNECT_MS, HOSTS_TIMEOUT_MS);
		if ((r = peer_call(p, "GET", "/v1/vms", NULL, &vms, NULL, &err)) == 0)
			r = peer_call(p, "GET", "/v1/pools", NULL, &pools, NULL, &err);
	}
	json_object_set_new(hp->out, "reachable", json_boolean(r == 0));
	json_object_set_new(hp->out, "ms", json_integer(time_mono_ms() - t0));
	if (r == 0) {
		json_object_set_new(hp->out, "vms", vm_brief(json_object_get(vms, "vms")));
		json_object_set_new(hp->out, "pools", pool_brief(json_object_get(pools, "pools")));
	} else {
		json_object_set_new(hp->out, "error", json_string(err.s));
	}
	json_decref(vms);
	json_decref(pools);
	buf_release(&err);
	peer_close(p);
	return NULL;
}

json_t *svc_hosts_list(void)
{
	struct trusted_host *list = NULL;
	size_t n = 0;
	struct buf err = BUF_INIT;
	json_t *hosts = json_array();

	json_t *vms = svc_vm_list(NULL, &err), *pools = svc_pool_list();
	json_array_append_new(hosts, json_pack("{s:s,s:b,s:s?,s:b,s:I,s:o,s:o}", "name", svc_cfg.host_name ? svc_cfg.host_name : "localhost",
					       "self", 1, "url", NULL, "reachable", 1, "ms", (json_int_t)0, "vms",
					       vm_brief(json_object_get(vms, "vms")), "pools",
					       pool_brief(json_object_get(pools, "pools"))));
	json_decref(vms);
	json_decref(pools);
	buf_release(&err);

	if (store_trust_list(svc_cfg.store, &list, &n) < 0)
		n = 0;
	struct host_probe *hp = xcalloc(n ? n : 1, sizeof(*hp));
	for (size_t i = 0; i < n; i++) {
		hp[i].name = list[i].name;
		hp[i].started = pthread_create(&hp[i].thread, NULL, probe_main, &hp[i]) == 0;
		if (!hp[i].started)
			probe_main(&hp[i]); /* no thread: ask it here */
	}
	for (size_t i = 0; i < n; i++) {
		if (hp[i].started)
			pthread_join(hp[i].thread, NULL);
		json_array_append_new(hosts, hp[i].out);
	}
	free(hp);
	store_trust_list_free(list, n);
	return json_pack("{s:o}", "hosts", hosts);
}
