/*
 * qmp_fake.c - the fake QEMU monitor of the unit tests (qmp_fake.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "qmp_fake.h"
#include "qemu/qmp.h"
#include "util/cleanup.h"
#include "util/common.h"




void fake_fail(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(f->failure, sizeof(f->failure), fmt, ap);
	va_end(ap);
}

static const char *data_dir(void)
{
	static char dir[4096];
	const char *env = getenv("CORRAL_TEST_DATA");
	const char *me = __FILE__, *tail = strstr(me, "tests/unit/qmp_fake.c");

	if (env)
		snprintf(dir, sizeof(dir), "%s/qmp", env);
#ifdef TEST_DATA_DIR
	else if (TEST_DATA_DIR[0])
		snprintf(dir, sizeof(dir), "%s/qmp", TEST_DATA_DIR);
#endif
	else
		snprintf(dir, sizeof(dir), "%.*stests/data/qmp", (int)(tail ? tail - me : 0), me);
	return dir;
}

/* The transcript tests/data/qmp/<name>.replies as a JSON array. */
json_t *load_transcript(const char *name)
{
	__do_free char *path = xasprintf("%s/%s.replies", data_dir(), name);
	__do_fclose FILE *fp = fopen(path, "re");
	json_t *lines = json_array();
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!fp)
		fail_msg("cannot open %s (set CORRAL_TEST_DATA to tests/data)", path);
	while ((n = getline(&line, &cap, fp)) > 0) {
		json_error_t e;
		json_t *j;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		j = json_loadb(line, (size_t)n, 0, &e);
		if (!j)
			fail_msg("%s: %s", path, e.text);
		json_array_append_new(lines, j);
	}
	free(line);
	return lines;
}

void fake_write(struct fake *f, const char *p, size_t len)
{
	size_t step = f->byte_by_byte ? 1 : len;

	for (size_t off = 0; off < len;) {
		size_t chunk = len - off < step ? len - off : step;
		ssize_t n = send(f->fd, p + off, chunk, MSG_NOSIGNAL);
		if (n <= 0)
			return; /* the client is gone; the test decides if that is wrong */
		off += (size_t)n;
		if (f->byte_by_byte)
			usleep(20);
	}
}

void fake_queue(struct buf *out, json_t *msg)
{
	__do_free char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;

	if (!s)
		return;
	buf_adds(out, s);
	buf_addch(out, '\n');
}

/* Next command from the client, NULL at EOF (f->eof) or after IO_TIMEOUT_MS. */
json_t *fake_read_cmd(struct fake *f)
{
	for (;;) {
		char *nl = memchr(f->in.s, '\n', f->in.len);
		struct pollfd p = { .fd = f->fd, .events = POLLIN };
		char tmp[4096];
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - f->in.s);
			json_error_t e;
			json_t *j = json_loadb(f->in.s, len, 0, &e);

			memmove(f->in.s, nl + 1, f->in.len - len - 1);
			f->in.len -= len + 1;
			if (!j)
				fake_fail(f, "client sent invalid JSON: %s", e.text);
			else if (!json_string_value(json_object_get(j, "id")))
				fake_fail(f, "client sent a command without id");
			f->commands++;
			json_decref(f->last_cmd);
			f->last_cmd = json_incref(j);
			return j;
		}
		if (poll(&p, 1, IO_TIMEOUT_MS) <= 0) {
			fake_fail(f, "client sent nothing for %d ms", IO_TIMEOUT_MS);
			return NULL;
		}
		n = recv(f->fd, tmp, sizeof(tmp), 0);
		if (n <= 0) {
			f->eof = true;
			return NULL;
		}
		buf_add(&f->in, tmp, (size_t)n);
	}
}

void fake_reply(struct fake *f, json_t *cmd, json_t *ret)
{
	__do_buf struct buf out = BUF_INIT;
	__do_json json_t *msg = json_pack("{s:o, s:O}", "return", ret, "id", json_object_get(cmd, "id"));

	fake_queue(&out, msg);
	fake_write(f, out.s, out.len);
}

static bool same_args(json_t *a, json_t *b)
{
	return (!a && !b) || (a && b && json_equal(a, b));
}

/* Send QEMU's lines; at each client line, read the client's command first. */
static void fake_replay(struct fake *f)
{
	__do_buf struct buf out = BUF_INIT;
	size_t n = json_array_size(f->lines);
	json_t *cmd = NULL;

	if (f->limit && f->limit < n)
		n = f->limit;
	for (size_t i = 0; i < n && !f->failure[0]; i++) {
		json_t *line = json_array_get(f->lines, i);
		const char *want = json_string_value(json_object_get(line, "execute"));

		if (!want) {
			__do_json json_t *msg = json_deep_copy(line);
			if (cmd && json_object_get(msg, "id"))
				json_object_set(msg, "id", json_object_get(cmd, "id"));
			fake_queue(&out, msg);
			continue;
		}
		fake_write(f, out.s, out.len); /* several messages in one write */
		buf_reset(&out);
		json_decref(cmd);
		cmd = fake_read_cmd(f);
		if (!cmd)
			break;
		const char *got = json_string_value(json_object_get(cmd, "execute"));
		if (!got || strcmp(got, want) != 0 ||
		    !same_args(json_object_get(cmd, "arguments"), json_object_get(line, "arguments")))
			fake_fail(f, "line %zu: expected %s, client sent %s", i, want,
				  json_dumps(cmd, JSON_COMPACT));
	}
	fake_write(f, out.s, out.len);
	json_decref(cmd);
}

void *fake_main(void *arg)
{
	struct fake *f = arg;

	fake_replay(f);
	if (f->after && !f->eof && !f->failure[0])
		f->after(f);
	while (!f->close_at_end && !f->eof && !f->failure[0]) {
		json_t *j = fake_read_cmd(f);
		if (j)
			fake_fail(f, "command after the end of the transcript: %s",
				  json_string_value(json_object_get(j, "execute")));
		json_decref(j);
	}
	close(f->fd);
	return NULL;
}

struct fake *fake_new(const char *transcript)
{
	struct fake *f = xcalloc(1, sizeof(*f));

	f->lines = transcript ? load_transcript(transcript) : json_array();
	f->in = (struct buf)BUF_INIT;
	f->fd = -EBADF;
	return f;
}

/* Start the fake on a socketpair; returns the client's end. */
int fake_start(struct fake *f)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fd = sv[1];
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	return sv[0];
}

/* Wait for the fake to finish (the client must have closed) and check it. */
void fake_join(struct fake *f)
{
	pthread_join(f->thread, NULL);
	assert_string_equal(f->failure, "");
}

void fake_free(struct fake *f)
{
	json_decref(f->lines);
	json_decref(f->last_cmd);
	buf_release(&f->in);
	free(f);
}

void fake_stop(struct fake *f)
{
	fake_join(f);
	fake_free(f);
}


struct qmp *fake_connect(struct fake *f)
{
	__do_buf struct buf err = BUF_INIT;
	struct qmp *q = qmp_connect_fd(fake_start(f), IO_TIMEOUT_MS, NULL, NULL, NULL, &err);

	if (!q)
		fail_msg("qmp_connect_fd: %s", err.s);
	return q;
}
