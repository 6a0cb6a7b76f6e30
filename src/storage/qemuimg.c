/*
 * qemuimg.c - running qemu-img and reading its errors (see qemuimg.h).
 *
 * qemu-img prints its failure as "qemu-img: <reason>" on stderr, sometimes
 * followed by a hint line; the reason is what the user needs, so it is cut
 * out here once, with control characters masked, and every caller wraps it
 * in its own "cannot ... <object>: " sentence.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <jansson.h>

#include "qemuimg.h"
#include "util/log.h"
#include "util/common.h"

/*
 * qemu-img's reason for failing, from its stderr: the last line it prefixed
 * with "qemu-img: ", without the prefix, followed by a hint line printed
 * after it in parentheses ("Is another process using the image [...]?");
 * else the last non-empty line.
 */
static void qemu_img_reason(const char *stderr_text, struct buf *out)
{
	const char *best = NULL, *last = NULL;
	size_t best_len = 0, last_len = 0;

	for (const char *p = stderr_text; *p;) {
		size_t n = strcspn(p, "\r\n");
		size_t t = n;
		while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
			t--;
		if (t) {
			last = p;
			last_len = t;
			if (t > 10 && strncmp(p, "qemu-img: ", 10) == 0) {
				best = p + 10;
				best_len = t - 10;
			}
		}
		p += n;
		p += strspn(p, "\r\n");
	}
	if (!best) {
		buf_add_printable(out, last, last_len);
		return;
	}
	buf_add_printable(out, best, best_len);
	if (last > best) {
		buf_adds(out, " (");
		buf_add_printable(out, last, last_len);
		buf_addch(out, ')');
	}
}

int qemu_img_result(int rc, const struct buf *errout, struct buf *why)
{
	if (rc == 0)
		return 0;
	if (rc < 0) {
		buf_printf(why, "cannot run qemu-img: %s", strerror(-rc));
		return -EIO;
	}
	if (strspn(errout->s, " \t\r\n") == errout->len) {
		if (rc > 128)
			buf_printf(why, "qemu-img was killed by signal %d", rc - 128);
		else
			buf_printf(why, "qemu-img failed with exit status %d", rc);
		return -EIO;
	}
	qemu_img_reason(errout->s, why);
	if (strstr(errout->s, "No space left on device") || strstr(errout->s, "Disk quota exceeded"))
		return -ENOSPC;
	return -EIO;
}

void qemu_img_cmd(struct cmd *c, ...)
{
	va_list ap;
	const char *arg;

	cmd_add(c, "qemu-img");
	c->helper = true;
	va_start(ap, c);
	while ((arg = va_arg(ap, const char *)))
		cmd_add(c, arg);
	va_end(ap);
}

int qemu_img_run(struct cmd *c, struct buf *out, struct buf *why)
{
	struct buf errout __do_buf = BUF_INIT;
	__do_free char *line = cmd_to_string(c);
	int r;

	log_debug("running %s", line);
	r = qemu_img_result(cmd_run(c, out, &errout), &errout, why);
	cmd_release(c);
	return r;
}

int qemu_img_measure(const char *src, int src_fd, const char *src_format, const char *format, bool shared,
		     uint64_t *required, struct buf *why)
{
	struct cmd c = CMD_INIT;
	struct buf res __do_buf = BUF_INIT;
	struct buf opts __do_buf = BUF_INIT;
	__do_json json_t *j = NULL;
	const json_t *req;
	json_error_t je;
	int r;

	qemu_img_cmd(&c, "measure", "--output=json", "-O", format, NULL);
	if (shared) {
		buf_printf(&opts, "driver=%s,force-share=on,read-only=on,file.driver=file,file.filename=", src_format);
		for (const char *p = src; *p; p++) {
			if (*p == ',')
				buf_addch(&opts, ','); /* QEMU's option syntax doubles commas */
			buf_addch(&opts, *p);
		}
		cmd_add(&c, "--image-opts");
		cmd_add(&c, opts.s);
	} else {
		cmd_add(&c, "-f");
		cmd_add(&c, src_format);
		cmd_add(&c, src);
	}
	if (src_fd >= 0)
		cmd_keep_fd(&c, src_fd, QEMU_IMG_SRC_FD);
	r = qemu_img_run(&c, &res, why);
	if (r < 0)
		return r;
	j = json_loadb(res.s, res.len, 0, &je);
	req = json_object_get(j, "required");
	if (!json_is_integer(req) || json_integer_value(req) < 0) {
		buf_adds(why, "unreadable output from qemu-img measure");
		return -EIO;
	}
	*required = (uint64_t)json_integer_value(req);
	return 0;
}

int qemu_img_backing_chain(const char *path, const char *format, char ***files, size_t *n, struct buf *why)
{
	struct cmd c = CMD_INIT;
	struct buf res __do_buf = BUF_INIT;
	__do_json json_t *j = NULL;
	json_error_t je;
	const json_t *e;
	size_t i;
	int r;

	*files = NULL;
	*n = 0;
	qemu_img_cmd(&c, "info", "--backing-chain", "--output=json", "--force-share", "-f", format, path, NULL);
	if ((r = qemu_img_run(&c, &res, why)) < 0)
		return r;
	j = json_loadb(res.s, res.len, 0, &je);
	if (!json_is_array(j) || json_array_size(j) == 0) {
		buf_adds(why, "unreadable output from qemu-img info --backing-chain");
		return -EIO;
	}
	*files = xcalloc(json_array_size(j), sizeof(char *));
	json_array_foreach(j, i, e) {
		const char *name = json_string_value(json_object_get(e, "filename"));
		const char *fmt = json_string_value(json_object_get(e, "format"));
		if (i == 0)
			continue;
		if (!name || name[0] != '/' || strstr(name, "json:") == name || strstr(name, "://")) {
			buf_printf(why, "backing file '%s' is not a plain file", name ? name : "?");
			r = -ENOTSUP;
			break;
		}
		if (!fmt || (strcmp(fmt, "raw") != 0 && strcmp(fmt, "qcow2") != 0)) {
			buf_printf(why, "backing file %s has format %s (only raw and qcow2 are read)", name,
				   fmt ? fmt : "unknown");
			r = -ENOTSUP;
			break;
		}
		(*files)[(*n)++] = xstrdup(name);
	}
	if (r < 0) {
		for (i = 0; i < *n; i++)
			free((*files)[i]);
		free(*files);
		*files = NULL;
		*n = 0;
	}
	return r;
}
