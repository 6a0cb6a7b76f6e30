/*
 * joblock.c - see joblock.h.  A small list guarded by one mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "joblock.h"
#include "util/common.h"

struct held {
	char uuid[37];
	char job[32];
	struct held *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct held *head;

static struct held *find(const char *uuid)
{
	for (struct held *h = head; h; h = h->next)
		if (strcmp(h->uuid, uuid) == 0)
			return h;
	return NULL;
}

int joblock_begin(const char *vm_uuid, const char *job, struct buf *err)
{
	pthread_mutex_lock(&lock);
	struct held *h = find(vm_uuid);
	if (h) {
		buf_printf(err, "busy: %s in progress", h->job);
		pthread_mutex_unlock(&lock);
		return -EAGAIN;
	}
	h = xcalloc(1, sizeof(*h));
	snprintf(h->uuid, sizeof(h->uuid), "%s", vm_uuid);
	snprintf(h->job, sizeof(h->job), "%s", job);
	h->next = head;
	head = h;
	pthread_mutex_unlock(&lock);
	return 0;
}

void joblock_end(const char *vm_uuid)
{
	pthread_mutex_lock(&lock);
	for (struct held **p = &head; *p; p = &(*p)->next) {
		if (strcmp((*p)->uuid, vm_uuid) == 0) {
			struct held *h = *p;
			*p = h->next;
			free(h);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

void joblock_current(const char *vm_uuid, char *out, size_t len)
{
	pthread_mutex_lock(&lock);
	struct held *h = find(vm_uuid);
	snprintf(out, len, "%s", h ? h->job : "");
	pthread_mutex_unlock(&lock);
}
