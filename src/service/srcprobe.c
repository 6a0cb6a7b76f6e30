/*
 * srcprobe.c - refusing files that are not disks before a raw import (see
 * srcprobe.h).  The helper answers "sniff" with the partition scheme, a
 * whole-disk filesystem and a guess from the first 64 KiB; this file only
 * turns that answer into a verdict and a sentence.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "service/srcprobe.h"
#include "service/imgclient.h"
#include "util/common.h"

static const struct {
	const char *kind;
	const char *looks;
} kinds[] = {
	{ "ova", "an OVA appliance archive (import it with 'corral vm import')" },
	{ "ovf", "an OVF descriptor (import the appliance with 'corral vm import')" },
	{ "tar", "a tar archive" },
	{ "xml", "an XML document" },
	{ "text", "a text file" },
	{ "gzip", "a gzip-compressed file (decompress it first)" },
	{ "xz", "an xz-compressed file (decompress it first)" },
	{ "bzip2", "a bzip2-compressed file (decompress it first)" },
	{ "zstd", "a zstd-compressed file (decompress it first)" },
	{ "zip", "a zip archive" },
	{ "empty", "empty" },
	{ "zeros", "blank (no partition table or filesystem in its first 64 KiB)" },
};

int svc_raw_source_check(int fd, const char *path, struct buf *err)
{
	struct imgc_source src = IMGC_SOURCE_INIT;
	__do_json json_t *req = json_pack("{s:s}", "op", "sniff"), *res = NULL;
	struct buf why __do_buf = BUF_INIT;
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int r;

	if (dfd < 0) {
		r = -errno;
		buf_printf(err, "cannot read source image %s: %s", path, strerror(-r));
		return r;
	}
	imgc_source_fds(&src, path, &dfd, &path, 1, "raw", NULL);
	r = imgc_call(&src, req, NULL, 0, &res, &why);
	imgc_source_release(&src);
	if (r < 0) {
		buf_printf(err, "cannot look inside source image %s: %s", path, why.s);
		return r;
	}
	const char *scheme = json_string_value(json_object_get(res, "scheme"));
	const char *fstype = json_string_value(json_object_get(res, "fstype"));
	const char *kind = json_string_value(json_object_get(res, "kind"));
	if (scheme && strcmp(scheme, "none") != 0)
		return 0;	/* MBR or GPT */
	if (fstype && strcmp(fstype, "iso9660") != 0)
		return 0;	/* a filesystem on the whole disk */
	const char *looks = "a file with no partition table and no filesystem corral recognises";
	if (fstype)
		looks = "an ISO 9660 CD image (attach it with 'corral cdrom insert')";
	else
		for (size_t i = 0; kind && i < ARRAY_SIZE(kinds); i++)
			if (strcmp(kind, kinds[i].kind) == 0)
				looks = kinds[i].looks;
	buf_printf(err, "%s does not look like a disk image: it looks like %s; give --source-format raw to import it "
			"as a raw disk anyway",
		   path, looks);
	return -EINVAL;
}
