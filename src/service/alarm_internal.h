/*
 * alarm_internal.h - what alarms.c (evaluation, the worker) and
 * alarm_rules.c (the rules' API) share; not for other modules.
 */
#ifndef CORRAL_SERVICE_ALARM_INTERNAL_H
#define CORRAL_SERVICE_ALARM_INTERNAL_H

#include <jansson.h>

#include "util/buf.h"

/* Where rule's SMTP password is kept (0600; caller frees). */
char *svc_alarm_secret_path(const char *rule);
/* One attempt to reach one target of rule (its "smtp" settings for mailto:); see alarm_notify.h. */
int svc_alarm_send_one(const char *rule, const char *target, const json_t *smtp, const json_t *payload,
		       struct buf *err);
/* The current state of each of rule's objects: [{"object","name","state","since","value"?}] (alarms.c). */
json_t *svc_alarm_states(const char *rule);

#endif
