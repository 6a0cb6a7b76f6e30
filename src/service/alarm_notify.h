/*
 * alarm_notify.h - sending one alarm notification (alarm_notify.c): a
 * webhook (JSON POST) or an e-mail over SMTP, both through libcurl, one
 * attempt each; the retries and their backoff are the caller's
 * (alarms.c's worker thread).
 *
 * Secrets: the SMTP password and any URL are never put in err nor logged
 * (a webhook URL often carries a token in its path): err names the target
 * by its kind and host only.
 * Threading: any thread; each call uses its own curl handle.
 * Errors: 0, or -EIO / -ETIMEDOUT / -EREMOTEIO with one sentence in err.
 */
#ifndef CORRAL_SERVICE_ALARM_NOTIFY_H
#define CORRAL_SERVICE_ALARM_NOTIFY_H

#include <jansson.h>

#include "util/buf.h"

#define ALARM_NOTIFY_TIMEOUT_S 10

struct alarm_smtp {
	const char *url;      /* smtp://HOST[:PORT] or smtps://HOST[:PORT] */
	const char *from;     /* an address */
	const char *user;     /* or NULL */
	const char *password; /* or NULL */
};

/* POST payload as application/json to url (http or https); a 2xx answer is success. */
int alarm_notify_webhook(const char *url, const json_t *payload, struct buf *err);
/* Mail payload (subject from alarm_payload_subject, the JSON as the body) to `to`. */
int alarm_notify_email(const struct alarm_smtp *smtp, const json_t *to, const json_t *payload, struct buf *err);

/* The host of a URL for messages ("example.com:8080"), never its path, user or password (caller frees). */
char *alarm_url_host(const char *url);

#endif
