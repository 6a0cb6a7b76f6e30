/*
 * ova_tar.c - the index of an OVA's tar archive (see appliance.h).
 *
 * An OVA is a ustar archive of a few plain files: the .ovf descriptor
 * first, then optionally a .mf manifest and a certificate, then the disk
 * images.  Nothing is extracted here: the reader walks the 512-byte headers,
 * checks each one (checksum, type, name, size against the end of the file)
 * and reports where each member's data lies, so corrald can copy exactly
 * those bytes into files it names itself.  Sizes may be octal or GNU
 * base-256 (members of 8 GiB and more); pax and GNU long-name headers are
 * refused rather than half-understood.
 */
#include <errno.h>
#include <string.h>

#include "image/appliance.h"
#include "util/common.h"

#define TAR_BLOCK 512u

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* An octal field (NUL/space terminated, leading spaces allowed) or a GNU base-256 one. */
static int tar_number(const uint8_t *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		if (f[0] != 0x80)	/* negative, or more than 56 bits */
			return -EINVAL;
		for (i = 1; i < n; i++) {
			if (v >> 56)
				return -EINVAL;
			v = v << 8 | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < n && f[i] == ' ')
		i++;
	size_t digits = 0;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
		if (v >> 60)
			return -EINVAL;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -EINVAL;
	if (!digits)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool checksum_ok(const uint8_t *h)
{
	uint64_t want, sum = 0;
	if (tar_number(h + 148, 8, &want) < 0)
		return false;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum == want;
}

/* Why a member name is refused, or NULL. */
static const char *name_refused(const char *name)
{
	if (!*name)
		return "an empty name";
	if (strchr(name, '/'))
		return "a directory part";
	if (name[0] == '.')
		return "a leading '.'";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '\\')
			return "control characters, backslashes or bytes that are not ASCII";
	return NULL;
}

static int refuse_type(char type, size_t idx, struct buf *err)
{
	const char *what;
	switch (type) {
	case '1': what = "a hard link"; break;
	case '2': what = "a symbolic link"; break;
	case '3': case '4': what = "a device node"; break;
	case '5': what = "a directory"; break;
	case '6': what = "a FIFO"; break;
	case 'x': case 'g': what = "a pax extended header"; break;
	case 'L': case 'K': what = "a GNU long name header"; break;
	default: what = "of an unknown type"; break;
	}
	buf_printf(err, "member %zu of the archive is %s; an OVA holds only plain files", idx + 1, what);
	return -EINVAL;
}

int ova_tar_index(struct img_dev *dev, json_t **out, struct buf *err)
{
	uint64_t size = img_dev_size(dev), off = 0;
	uint8_t h[TAR_BLOCK];
	json_t *list = json_array(), *seen = json_object();
	int r = 0;

	*out = NULL;
	for (size_t idx = 0;; idx++) {
		char name[OVA_NAME_MAX + 1];
		uint64_t msize, blocks;

		if (off > size || size - off < TAR_BLOCK) {
			buf_adds(err, "the archive ends without an end-of-archive marker (truncated?)");
			r = -EINVAL;
			break;
		}
		if ((r = img_dev_pread(dev, h, TAR_BLOCK, off, err)) < 0)
			break;
		if (all_zero(h, TAR_BLOCK))
			break;	/* end of archive */
		if (memcmp(h + 257, "ustar", 5) != 0) {
			buf_printf(err, "member %zu of the archive has no ustar header: not a tar archive, or damaged",
				   idx + 1);
			r = -EINVAL;
			break;
		}
		if (!checksum_ok(h)) {
			buf_printf(err, "member %zu of the archive has a bad header checksum", idx + 1);
			r = -EINVAL;
			break;
		}
		if (h[156] != '0' && h[156] != '\0') {
			r = refuse_type((char)h[156], idx, err);
			break;
		}
		if (idx >= OVA_MAX_MEMBERS) {
			buf_printf(err, "the archive has more than %d members", OVA_MAX_MEMBERS);
			r = -EFBIG;
			break;
		}
		memcpy(name, h, OVA_NAME_MAX);
		name[OVA_NAME_MAX] = '\0';
		/* ustar: a prefix is a directory part of the name (GNU tar keeps times there: only ustar proper) */
		bool posix = memcmp(h + 257, "ustar\0", 6) == 0;
		const char *bad = posix && h[345] ? "a directory part" : name_refused(name);
		if (bad) {
			buf_printf(err, "member %zu of the archive has a name with %s; refused", idx + 1, bad);
			r = -EINVAL;
			break;
		}
		if (tar_number(h + 124, 12, &msize) < 0) {
			buf_printf(err, "member %s of the archive has an unreadable size", name);
			r = -EINVAL;
			break;
		}
		off += TAR_BLOCK;
		if (msize > size - off) {
			buf_printf(err, "member %s of the archive claims %llu bytes but the file ends %llu bytes later",
				   name, (unsigned long long)msize, (unsigned long long)(size - off));
			r = -EINVAL;
			break;
		}
		if (json_object_get(seen, name)) {
			buf_printf(err, "the archive holds two members named %s", name);
			r = -EINVAL;
			break;
		}
		json_object_set_new(seen, name, json_true());
		json_array_append_new(list, json_pack("{s:s,s:I,s:I}", "name", name, "offset", (json_int_t)off, "size",
						      (json_int_t)msize));
		blocks = msize / TAR_BLOCK + (msize % TAR_BLOCK ? 1 : 0);
		off += blocks * TAR_BLOCK;
	}
	json_decref(seen);
	if (r == 0 && json_array_size(list) == 0) {
		buf_adds(err, "the archive is empty");
		r = -EINVAL;
	}
	if (r < 0) {
		json_decref(list);
		return r;
	}
	*out = list;
	return 0;
}
