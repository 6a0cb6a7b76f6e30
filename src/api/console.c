/*
 * console.c - see console.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "console.h"
#include "service/vm.h"
#include "util/log.h"
#include "util/common.h"

struct console_session {
	char uuid[37];
	int serial_fd;
	int hold_fd; /* a container's: liblxc's fd holding the console slot; -1 for a VM */
};

void *console_session_new(const char *vm_uuid, int serial_fd)
{
	struct console_session *s = xcalloc(1, sizeof(*s));
	snprintf(s->uuid, sizeof(s->uuid), "%s", vm_uuid);
	s->serial_fd = serial_fd;
	s->hold_fd = -1;
	return s;
}

void *console_session_new_ct(const char *ct_uuid, int pty_fd, int hold_fd)
{
	struct console_session *s = console_session_new(ct_uuid, pty_fd);
	s->hold_fd = hold_fd;
	return s;
}

/* Write all of buf; false when the peer is gone. */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { fd, POLLOUT, 0 };
				poll(&p, 1, 1000);
				continue;
			}
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* write_all for a pty (not a socket). */
static bool write_fd_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

void console_relay(int client_fd, void *session)
{
	struct console_session *s = session;
	char buf[16384];

	if (client_fd >= 0) {
		log_info("console attached to vm %s", s->uuid);
		for (;;) {
			struct pollfd p[2] = { { client_fd, POLLIN, 0 }, { s->serial_fd, POLLIN, 0 } };
			if (poll(p, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (p[0].revents) {
				ssize_t n = recv(client_fd, buf, sizeof(buf), 0);
				if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
					break;
				if (n > 0 && !(s->hold_fd >= 0 ? write_fd_all(s->serial_fd, buf, (size_t)n)
								: write_all(s->serial_fd, buf, (size_t)n)))
					break;
			}
			if (p[1].revents) {
				/* read(): the serial socket of a VM or the pty of a container */
				ssize_t n = read(s->serial_fd, buf, sizeof(buf));
				if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
					break;
				if (n > 0 && !write_all(client_fd, buf, (size_t)n))
					break;
			}
		}
		log_info("console detached from vm %s", s->uuid);
	}
	if (s->hold_fd >= 0) {
		close(s->serial_fd);
		close(s->hold_fd);
	} else {
		svc_vm_console_close(s->uuid, s->serial_fd);
	}
	free(s);
}
