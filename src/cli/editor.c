/*
 * editor.c - edit a JSON document in $EDITOR; see editor.h.
 *
 * Like system(3) the parent ignores SIGINT and SIGQUIT while the editor
 * runs (the terminal's ^C belongs to the editor), but the child is started
 * with fork + execvp from an argv, and an exec failure is sent back through
 * a close-on-exec pipe so it is reported once, by the parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "editor.h"
#include "cli.h"
#include "output.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/common.h"

#define EDIT_MAX (4u << 20)

struct argvec {
	char **v;
	size_t n;
};

static void argvec_add(struct argvec *a, const char *s, size_t len)
{
	a->v = xrealloc(a->v, (a->n + 2) * sizeof(char *));
	a->v[a->n++] = xasprintf("%.*s", (int)len, s);
	a->v[a->n] = NULL;
}

static void argvec_release(struct argvec *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

/* Run argv and wait.  Returns the wait status, or -errno if it could not start. */
static int spawn_wait(char **argv)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	int pipefd[2], status = 0, child_errno = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid = fork();
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		close(pipefd[0]);
		execvp(argv[0], argv);
		child_errno = errno;
		/* The parent notices a short read; nothing else to do here. */
		(void)!write(pipefd[1], &child_errno, sizeof(child_errno));
		_exit(127);
	}
	close(pipefd[1]);
	if (pid < 0) {
		child_errno = errno;
	} else {
		ssize_t n;
		while ((n = read(pipefd[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
			;
		if (n != sizeof(child_errno))
			child_errno = 0;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	close(pipefd[0]);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return child_errno ? -child_errno : status;
}

int editor_edit_json(const json_t *in, json_t **out, char **path_out)
{
	const char *editor = getenv("EDITOR");
	const char *tmpdir = getenv("TMPDIR");
	__do_free char *path = NULL;
	__do_free char *text = NULL;
	__do_buf struct buf edited = BUF_INIT;
	struct argvec argv = { NULL, 0 };
	json_error_t je;
	json_t *result;
	int fd, r;

	*out = NULL;
	*path_out = NULL;
	if (!editor || !*editor)
		editor = "vi";
	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	text = json_dumps(in, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text) {
		cli_error("cannot serialise the definition");
		return -1;
	}
	path = xasprintf("%s/corral-edit-XXXXXX.json", tmpdir);
	fd = mkstemps(path, 5);
	if (fd < 0) {
		cli_error("cannot create a temp file in %s: %s", tmpdir, strerror(errno));
		return -1;
	}
	r = out_write_all(fd, text, strlen(text), false);
	if (r == 0)
		r = out_write_all(fd, "\n", 1, false);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlink(path);
		cli_error("cannot write %s: %s", path, strerror(-r));
		return -1;
	}

	for (const char *p = editor; *p;) {
		size_t n;
		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n)
			argvec_add(&argv, p, n);
		p += n;
	}
	if (argv.n == 0)
		argvec_add(&argv, "vi", 2);
	argvec_add(&argv, path, strlen(path));
	r = spawn_wait(argv.v);
	if (r < 0) {
		cli_error("cannot run editor '%s': %s; nothing changed", argv.v[0], strerror(-r));
		argvec_release(&argv);
		unlink(path);
		return -1;
	}
	if (!WIFEXITED(r) || WEXITSTATUS(r) != 0) {
		if (WIFEXITED(r))
			cli_error("editor '%s' exited with status %d; nothing changed", argv.v[0], WEXITSTATUS(r));
		else
			cli_error("editor '%s' was killed by signal %d; nothing changed", argv.v[0], WTERMSIG(r));
		argvec_release(&argv);
		unlink(path);
		return -1;
	}
	argvec_release(&argv);

	r = fs_read_file(path, EDIT_MAX, &edited);
	if (r < 0) {
		cli_error("cannot read back %s: %s; nothing changed", path, strerror(-r));
		return -1;
	}
	result = json_loadb(edited.s, edited.len, JSON_REJECT_DUPLICATES, &je);
	if (!result || !json_is_object(result)) {
		if (result)
			cli_error("the edited definition is not a JSON object; nothing changed (your edit is kept in %s)", path);
		else
			cli_error("malformed JSON at line %d column %d: %s; nothing changed (your edit is kept in %s)",
				  je.line, je.column, je.text, path);
		json_decref(result);
		return -1;
	}
	if (json_equal(result, (json_t *)in)) {
		json_decref(result);
		unlink(path);
		return 0;
	}
	*out = result;
	*path_out = move_ptr(path);
	return 1;
}
