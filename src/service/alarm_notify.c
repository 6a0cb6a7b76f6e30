/*
 * alarm_notify.c - one webhook POST or one SMTP mail through libcurl (see
 * alarm_notify.h).  Every transfer has a connect and a total timeout, so a
 * dead receiver costs the worker thread at most ALARM_NOTIFY_TIMEOUT_S.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "service/alarm_notify.h"
#include "metrics/alarm.h"
#include "util/strutil.h"
#include "util/common.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

char *alarm_url_host(const char *url)
{
	const char *p = strstr(url ? url : "", "://");
	p = p ? p + 3 : (url ? url : "");
	size_t n = strcspn(p, "/?#");
	const char *at = memchr(p, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	return xstrndup(p, n > 255 ? 255 : n);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *opaque)
{
	(void)ptr;
	(void)opaque;
	return size * nmemb;
}

static int curl_fail(CURLcode rc, const char *what, const char *url, struct buf *err)
{
	__do_free char *host = alarm_url_host(url);
	buf_printf(err, "%s to %s failed: %s", what, host, curl_easy_strerror(rc));
	return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
}

static void common_opts(CURL *h, const char *url)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)ALARM_NOTIFY_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)ALARM_NOTIFY_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, ""); /* no proxy from the environment */
}

int alarm_notify_webhook(const char *url, const json_t *payload, struct buf *err)
{
	__do_free char *body = json_dumps(payload, JSON_COMPACT);
	struct curl_slist *hdr = NULL;
	long status = 0;
	int r = 0;

	pthread_once(&curl_once, curl_init_once);
	CURL *h = curl_easy_init();
	if (!h) {
		buf_adds(err, "cannot start an HTTP client");
		return -ENOMEM;
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "User-Agent: corral-alarms/1");
	common_opts(h, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		r = curl_fail(rc, "webhook", url, err);
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status < 200 || status > 299) {
			__do_free char *host = alarm_url_host(url);
			buf_printf(err, "webhook to %s answered HTTP %ld", host, status);
			r = -EREMOTEIO;
		}
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return r;
}

struct mail_src {
	const char *data;
	size_t len, off;
};

static size_t mail_read(char *ptr, size_t size, size_t nmemb, void *opaque)
{
	struct mail_src *m = opaque;
	size_t n = size * nmemb;
	if (n > m->len - m->off)
		n = m->len - m->off;
	memcpy(ptr, m->data + m->off, n);
	m->off += n;
	return n;
}

int alarm_notify_email(const struct alarm_smtp *smtp, const json_t *to, const json_t *payload, struct buf *err)
{
	struct curl_slist *rcpt = NULL;
	struct buf msg = BUF_INIT;
	__do_free char *subject = alarm_payload_subject(payload);
	__do_free char *body = json_dumps(payload, JSON_INDENT(2) | JSON_SORT_KEYS);
	__do_free char *from = xasprintf("<%s>", smtp->from);
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	json_t *a;
	size_t i;
	int r = 0;

	pthread_once(&curl_once, curl_init_once);
	CURL *h = curl_easy_init();
	if (!h) {
		buf_adds(err, "cannot start an SMTP client");
		return -ENOMEM;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(&msg, "Date: %s\r\nFrom: %s\r\nTo: ", date, smtp->from);
	json_array_foreach(to, i, a) {
		__do_free char *addr = xasprintf("<%s>", json_string_value(a));
		rcpt = curl_slist_append(rcpt, addr);
		buf_printf(&msg, "%s%s", i ? ", " : "", json_string_value(a));
	}
	buf_printf(&msg,
		   "\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
		   "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n\r\n",
		   subject, subject);
	/* the JSON, lines ending in CRLF; a line of one '.' cannot occur in it */
	for (const char *p = body; *p; p++) {
		if (*p == '\n')
			buf_addch(&msg, '\r');
		buf_addch(&msg, *p);
	}
	buf_adds(&msg, "\r\n");
	struct mail_src src = { msg.s, msg.len, 0 };

	common_opts(h, smtp->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, mail_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &src);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	if (smtp->user && *smtp->user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, smtp->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, smtp->password ? smtp->password : "");
		/* credentials only over TLS: STARTTLS on smtp://, TLS from the start on smtps:// */
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	}
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		r = curl_fail(rc, "mail", smtp->url, err);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	buf_release(&msg);
	return r;
}
