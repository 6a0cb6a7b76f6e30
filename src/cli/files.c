/*
 * files.c - what the verbs that look inside disks share (`disk files|get`,
 * `backup files|get`): printing a directory listing, and downloading a file
 * to a destination atomically (cli.h: cli_print_listing, cli_download_to).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/common.h"

static int64_t int_of(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* "drwxr-xr-x" from the entry's type (or S_IFMT bits of mode) and mode. */
static void mode_string(const char *type, int64_t mode, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	if (type)
		out[0] = strcmp(type, "directory") == 0 ? 'd' : strcmp(type, "symlink") == 0 ? 'l'
			: strcmp(type, "chardev") == 0 ? 'c' : strcmp(type, "blockdev") == 0 ? 'b'
			: strcmp(type, "fifo") == 0 ? 'p' : strcmp(type, "socket") == 0 ? 's' : '-';
	else
		out[0] = S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' : S_ISCHR(mode) ? 'c' : S_ISBLK(mode) ? 'b'
			: S_ISFIFO(mode) ? 'p' : S_ISSOCK(mode) ? 's' : '-';
	for (int i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400 >> i)) ? rwx[i] : '-';
	out[10] = '\0';
}

void cli_print_listing(const json_t *answer, bool lng)
{
	json_t *entries = json_object_get(answer, "entries");
	json_t *e;
	size_t i;

	if (!lng) {
		json_array_foreach(entries, i, e) {
			char mode[11];
			mode_string(out_str(e, "type"), int_of(e, "mode"), mode);
			printf("%s%s\n", out_str(e, "name"), mode[0] == 'd' ? "/" : "");
		}
	} else {
		static const char *const headers[] = { "MODE", "SIZE", "MTIME", "NAME" };
		__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
		json_array_foreach(entries, i, e) {
			char mode[11], size[24], when[32];
			time_t mt = (time_t)int_of(e, "mtime");
			const char *target = out_str(e, "target");
			bool hard = out_str(e, "type") && strcmp(out_str(e, "type"), "hardlink") == 0;
			__do_free char *name = target ? xasprintf(hard ? "%s => /%s" : "%s -> %s", out_str(e, "name"),
								  target) /* a hardlink: the path it shares its inode with */
						      : xstrdup(out_str(e, "name"));
			mode_string(out_str(e, "type"), int_of(e, "mode"), mode);
			snprintf(size, sizeof(size), "%" PRId64, int_of(e, "size"));
			out_time_epoch((int64_t)mt, when, sizeof(when));
			table_add(t, mode, size, when, name);
		}
		table_print(t, stdout);
	}
	if (json_is_true(json_object_get(answer, "truncated")))
		fprintf(stderr, "corral: the listing was cut short (too many entries)\n");
}

/* GET url into fd; CLI_OK or CLI_FAIL with the error printed. */
static int download(struct cli *cli, const char *url, int fd)
{
	__do_reply struct reply r = REPLY_INIT;
	struct client *c;
	int werr;

	if (!(c = cli_client(cli)) || client_download(c, url, fd, &r, &werr) < 0)
		return CLI_FAIL;
	if (!reply_ok(&r)) {
		client_print_error(&r, NULL);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cli_download_to(struct cli *cli, const char *cmd, const char *url, const char *src, const char *dest_arg,
		    bool force)
{
	__do_free char *dest = NULL;
	__do_free char *tmp = NULL;
	__do_close int fd = -EBADF;
	struct stat st;
	int rc = CLI_OK;

	if (strcmp(dest_arg, "-") == 0) {
		fflush(stdout);
		return download(cli, url, STDOUT_FILENO);
	}
	const char *base = strrchr(src, '/');
	base = base ? base + 1 : src;
	if (stat(dest_arg, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
			return cli_usage_error(cmd, "PATH '%s' names no file to put into directory %s", src, dest_arg);
		dest = xasprintf("%s/%s", dest_arg, base);
	} else {
		dest = xstrdup(dest_arg);
	}
	if (lstat(dest, &st) == 0) {
		if (!force)
			return cli_error("%s already exists; use --force to replace it", dest);
		if (S_ISDIR(st.st_mode))
			return cli_error("%s is a directory", dest);
	}
	tmp = xasprintf("%s.corral-XXXXXX", dest);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return cli_error("cannot create a file next to %s: %s", dest, strerror(errno));
	mode_t um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) < 0 || (rc = download(cli, url, fd)) != CLI_OK) {
		if (rc == CLI_OK)
			rc = cli_error("cannot set the mode of %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return rc;
	}
	if (fstat(fd, &st) < 0 || fsync(fd) < 0 || close(move_fd(fd)) < 0) {
		rc = cli_error("cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, dest) < 0) {
		rc = cli_error("cannot rename %s to %s: %s", tmp, dest, strerror(errno));
		unlink(tmp);
		return rc;
	}
	if (cli->json) {
		__do_json json_t *j = json_pack("{s:s,s:s,s:I}", "path", src, "dest", dest, "size", (json_int_t)st.st_size);
		out_json(j);
	} else {
		char sz[16];
		printf("copied %s (%s) to %s\n", src, out_size((uint64_t)st.st_size, sz, sizeof(sz)), dest);
	}
	return CLI_OK;
}
