/*
 * http.c - see http.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/common.h"

struct conn_state {
	struct buf body;
	bool too_big;
};

struct upgrade_job {
	http_upgrade_cb cb;
	void *opaque;
	int fd;
	struct MHD_UpgradeResponseHandle *urh;
};

static struct MHD_Daemon *daemon_;
static http_router router_;
static char *sock_path;

const char *http_query(const struct http_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

void http_reply_json(struct http_reply *rep, int status, json_t *j)
{
	rep->status = status;
	json_decref(rep->json);
	rep->json = j;
}

void http_reply_error(struct http_reply *rep, int status, const char *code, const char *msg)
{
	http_reply_json(rep, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void http_reply_stream(struct http_reply *rep, int fd, uint64_t size)
{
	json_decref(rep->json);
	rep->json = NULL;
	rep->status = 200;
	rep->stream = true;
	rep->stream_fd = fd;
	rep->stream_size = size;
}

/* MHD pulls a streamed body through this, on the connection's thread. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	int fd = (int)(intptr_t)cls;
	(void)pos;
	for (;;) {
		ssize_t n = read(fd, out, max);
		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		/* EOF: the end of a body of unknown size; before an announced size, an error. */
		return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

static void stream_free(void *cls) { close((int)(intptr_t)cls); }

static void *upgrade_thread(void *arg)
{
	struct upgrade_job *job = arg;
	job->cb(job->fd, job->opaque);
	MHD_upgrade_action(job->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(job);
	return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *connection, void *req_cls, const char *extra_in,
		       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct upgrade_job *job = cls;
	pthread_t t;
	(void)connection;
	(void)req_cls;
	(void)extra_in;
	(void)extra_in_size; /* clients wait for 101 before sending */
	job->fd = sock;
	job->urh = urh;
	/* MHD sockets are non-blocking; the relay wants blocking I/O with poll. */
	int fl = fcntl(sock, F_GETFL);
	if (fl >= 0)
		fcntl(sock, F_SETFL, fl & ~O_NONBLOCK);
	/* We are on the connection's own thread (thread-per-connection), but
	 * MHD needs this callback to return; relay on a thread of our own. */
	if (pthread_create(&t, NULL, upgrade_thread, job) != 0) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		job->cb(-1, job->opaque);
		free(job);
		return;
	}
	pthread_detach(t);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct http_reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (rep->upgrade_cb) {
		struct upgrade_job *job = xcalloc(1, sizeof(*job));
		job->cb = rep->upgrade_cb;
		job->opaque = rep->upgrade_opaque;
		rep->upgrade_opaque = NULL;
		resp = MHD_create_response_for_upgrade(on_upgrade, job);
		if (!resp) {
			job->cb(-1, job->opaque);
			free(job);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "corral-console");
		ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (rep->stream) {
		rep->stream = false; /* the response owns the fd now */
		resp = MHD_create_response_from_callback(
			rep->stream_size == HTTP_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : rep->stream_size, 64 * 1024,
			stream_read, (void *)(intptr_t)rep->stream_fd, stream_free);
		if (!resp) {
			close(rep->stream_fd);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					rep->content_type ? rep->content_type : "application/octet-stream");
		if (rep->stream_size == HTTP_SIZE_UNKNOWN)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
		ret = MHD_queue_response(c, (unsigned)rep->status, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (rep->json) {
		char *s = json_dumps(rep->json, JSON_COMPACT);
		if (!s)
			s = xstrdup("{}");
		size_t n = strlen(s);
		char *body = xmalloc(n + 2);
		memcpy(body, s, n);
		body[n] = '\n';
		body[n + 1] = '\0';
		free(s);
		resp = MHD_create_response_from_buffer(n + 1, body, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	} else {
		size_t n = rep->text.len;
		char *body = buf_detach(&rep->text);
		resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	}
	ret = MHD_queue_response(c, (unsigned)rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct conn_state *cs = *req_cls;
	(void)cls;
	(void)version;

	if (!cs) {
		cs = xcalloc(1, sizeof(*cs));
		cs->body = (struct buf)BUF_INIT;
		*req_cls = cs;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (cs->body.len + *upload_data_size > HTTP_MAX_BODY)
			cs->too_big = true;
		else
			buf_add(&cs->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}

	struct http_reply rep = { .status = 200, .text = BUF_INIT };
	if (cs->too_big) {
		http_reply_error(&rep, 413, "invalid_argument", "request body larger than 1 MiB");
	} else {
		struct http_request req = {
			.method = method,
			.path = url,
			.upgrade = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE),
			.body = cs->body.s,
			.body_len = cs->body.len,
			.conn = c,
		};
		router_(&req, &rep);
	}
	enum MHD_Result r = send_reply(c, &rep);
	json_decref(rep.json);
	buf_release(&rep.text);
	if (rep.upgrade_opaque) /* not handed to an upgrade: let it clean up */
		rep.upgrade_cb(-1, rep.upgrade_opaque);
	if (rep.stream) /* not handed to a response */
		close(rep.stream_fd);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *req_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (cs) {
		buf_release(&cs->body);
		free(cs);
		*req_cls = NULL;
	}
}

static int bind_unix(const char *path, struct buf *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		buf_printf(err, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket that answers belongs to a live corrald: refuse to steal it. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(fd);
		buf_printf(err, "another corrald is already listening on %s", path);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (r < 0 || listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		buf_printf(err, "cannot listen on %s: %s", path, strerror(e));
		return -e;
	}
	return fd;
}

int http_start(const char *socket_path, http_router router, struct buf *err)
{
	int fd = bind_unix(socket_path, err);
	if (fd < 0)
		return fd;
	router_ = router;
	sock_path = xstrdup(socket_path);
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_ALLOW_UPGRADE |
					   MHD_USE_ERROR_LOG,
				   0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
				   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
				   (unsigned)0, MHD_OPTION_END);
	if (!daemon_) {
		buf_printf(err, "cannot start the HTTP server on %s", socket_path);
		close(fd);
		unlink(socket_path);
		free(sock_path);
		sock_path = NULL;
		return -EIO;
	}
	return 0;
}

void http_stop(void)
{
	/* MHD closes the listening socket it was given. */
	if (daemon_) {
		MHD_stop_daemon(daemon_);
		daemon_ = NULL;
	}
	if (sock_path) {
		unlink(sock_path);
		free(sock_path);
		sock_path = NULL;
	}
}
