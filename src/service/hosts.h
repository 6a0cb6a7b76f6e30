/*
 * hosts.h - this host and the hosts it trusts, seen together (hosts.c):
 * `corral host list`.
 *
 * Threading: any thread; one call asks every trusted host in parallel
 * (one thread each) and waits at most HOSTS_TIMEOUT_MS for each.
 */
#ifndef CORRAL_SERVICE_HOSTS_H
#define CORRAL_SERVICE_HOSTS_H

#include <jansson.h>

#include "service/service.h"

/* Per trusted host: to connect (TCP + TLS), and for each call. */
#define HOSTS_CONNECT_MS 2000L
#define HOSTS_TIMEOUT_MS 3000L

/*
 * {"hosts":[{"name","self","url","reachable","error"?,"ms","vms":[{"name","state",
 * "cpus","memory_mib"}],"pools":[{"name","path","shared"}]}]}: this host first
 * ("self": true), then each trusted host by name.  A host that does not
 * answer in time is listed with "reachable": false and why.
 */
json_t *svc_hosts_list(void);

#endif
