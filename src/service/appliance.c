/*
 * appliance.c - `vm import` of an OVA or OVF appliance (see appliance.h).
 *
 * Two halves.  The request (svc_vm_import) asks the image helper what the
 * file says and checks all of it here, where it is trusted: the VM name,
 * CPUs and memory within corral's limits, each disk's file a plain name
 * present in the archive (or next to the .ovf, inside an allowed
 * directory) with the size the descriptor states, volume names free, the
 * networks.  The job (import_run) then copies and hashes, checks the
 * manifest, converts and defines, undoing everything if any step fails.
 * The helper's answers are untrusted JSON; corrald itself never parses tar
 * headers or XML.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "service/appliance.h"
#include "service/poolview.h"
#include "service/hostpath.h"
#include "service/imgclient.h"
#include "service/internal.h"
#include "service/network.h"
#include "service/pool.h"
#include "service/srcprobe.h"
#include "service/vm.h"
#include "core/job.h"
#include "storage/volume.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"

#define IMPORT_MAX_DISKS 16
#define IMPORT_MAX_NICS 4
#define IMPORT_MAX_CPUS 64
#define SCRATCH_PREFIX ".vm-import-"
#define COPY_CHUNK (1u << 20)

struct import_disk {
	char *file;		/* member or file name (NULL: an empty disk of `capacity`) */
	uint64_t offset, size;	/* OVA: where the member lies */
	uint64_t capacity;
	char *bus;
	char *vol, *path, *tmp;	/* the volume to make, its file and import temp file */
	int src_fd;		/* OVF: the disk file, opened by hostpath */
};

struct import {
	char *src;		/* the .ova or .ovf */
	int src_fd;
	bool ova;
	char *name, *pool, *dir;
	json_t *members;	/* OVA: name -> {"offset","size"} */
	char *ovf_name;		/* the descriptor's member (OVA) or path (OVF) */
	json_t *manifest;	/* name -> {"alg","digest"}, or NULL */
	struct import_disk disks[IMPORT_MAX_DISKS];
	int ndisks, created;
	json_t *def, *warnings;
	char *scratch;		/* OVA: the private copy directory, once made */
	bool start, claimed;
	struct job *job;
	uint64_t total, done;	/* bytes to copy out of the OVA, for progress */
};


static void import_free(void *arg)
{
	struct import *im = arg;
	if (!im)
		return;
	for (int i = 0; i < im->ndisks; i++) {
		struct import_disk *d = &im->disks[i];
		free(d->file);
		free(d->bus);
		free(d->vol);
		free(d->path);
		free(d->tmp);
		if (d->src_fd >= 0)
			close(d->src_fd);
	}
	if (im->src_fd >= 0)
		close(im->src_fd);
	if (im->claimed)
		svc_vm_name_release(im->name);
	if (im->dir)
		svc_pool_put(im->pool);
	free(im->src);
	free(im->name);
	free(im->pool);
	free(im->dir);
	free(im->ovf_name);
	free(im->scratch);
	json_decref(im->members);
	json_decref(im->manifest);
	json_decref(im->def);
	json_decref(im->warnings);
	free(im);
}

static void warn(struct import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct import *im, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	json_array_append_new(im->warnings, json_string(b.s));
	buf_release(&b);
}

/* A file name from the appliance: a plain, printable ASCII name (what the tar index also demands). */
static bool plain_name(const char *s)
{
	if (!s || !*s || s[0] == '.' || strlen(s) > 100)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '/' || *p == '\\')
			return false;
	return true;
}

/* The descriptor's name made a corral name: [A-Za-z0-9._-], others become '-'; NULL if nothing is left. */
static char *name_from(const char *s)
{
	struct buf b = BUF_INIT;
	/* room for the volume names' "-diskNN" */
	for (const char *p = s; p && *p && b.len < NAME_MAX_LEN - 7; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			  c == '_' || c == '-';
		if ((!ok || c == '.' || c == '-') && b.len == 0)
			continue; /* a name starts with a letter, digit or '_' */
		if (!ok && b.s[b.len - 1] == '-')
			continue;
		buf_addch(&b, ok ? c : '-');
	}
	while (b.len && (b.s[b.len - 1] == '-' || b.s[b.len - 1] == '.'))
		b.s[--b.len] = '\0';
	if (b.len == 0 || str_name_invalid(b.s)) {
		buf_release(&b);
		return NULL;
	}
	return b.s;
}

/* ---- asking the helper ---- */

static int helper_ask(int fd, const char *label, const char *kind, json_t **res, struct buf *err)
{
	struct imgc_source src = IMGC_SOURCE_INIT;
	__do_json json_t *req = json_pack("{s:s,s:s}", "op", "appliance", "kind", kind);
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int r;

	if (dfd < 0) {
		r = -errno;
		buf_printf(err, "cannot read %s: %s", label, strerror(-r));
		return r;
	}
	imgc_source_fds(&src, label, &dfd, &label, 1, "raw", NULL);
	r = imgc_call(&src, req, NULL, 0, res, err);
	imgc_source_release(&src);
	return r;
}

/* Check the helper's manifest answer: {"name":{"alg":"sha256"|"sha1","digest":hex}}. */
static int manifest_take(struct import *im, json_t *mf, const char *label, struct buf *err)
{
	const char *k;
	json_t *v;

	if (!mf || json_is_null(mf))
		return 0;
	if (!json_is_object(mf))
		goto bad;
	json_object_foreach(mf, k, v) {
		const char *alg = json_string_value(json_object_get(v, "alg"));
		const char *hex = json_string_value(json_object_get(v, "digest"));
		size_t want = alg && strcmp(alg, "sha256") == 0 ? 64 : alg && strcmp(alg, "sha1") == 0 ? 40 : 0;
		if (!plain_name(k) || !want || !hex || strlen(hex) != want || strspn(hex, "0123456789abcdef") != want)
			goto bad;
	}
	im->manifest = json_incref(mf);
	return 0;
bad:
	buf_printf(err, "cannot read the manifest of %s: the image helper's answer is malformed", label);
	return -EIO;
}

/* ---- the definition ---- */

static const char *bus_for(struct import *im, const char *controller, const char *model, int i)
{
	if (controller && (strcmp(controller, "ide") == 0 || strcmp(controller, "sata") == 0))
		return "ide";
	if (controller && strcmp(controller, "scsi") == 0) {
		if (model && strcasestr(model, "virtio") == NULL)
			warn(im, "disk %d: SCSI controller '%s' becomes virtio-scsi; the guest needs its driver", i + 1,
			     model);
		return "scsi";
	}
	warn(im, "disk %d: its controller (%s) becomes virtio-blk; the guest needs its driver", i + 1,
	     controller ? controller : "none stated");
	return "virtio";
}

static json_t *nic_for(struct import *im, const json_t *n, int i, const char *network)
{
	const char *onet = json_string_value(json_object_get(n, "network"));
	const char *omodel = json_string_value(json_object_get(n, "model"));
	const char *model = "virtio";
	json_t *nic;

	if (omodel && strcasestr(omodel, "e1000"))
		model = "e1000";
	else if (omodel && !strcasestr(omodel, "virtio"))
		warn(im, "NIC %d: model '%s' becomes virtio; the guest needs its driver", i + 1, omodel);
	if (network) {
		nic = json_pack("{s:s,s:s,s:s}", "mode", "network", "network", network, "model", model);
	} else {
		json_t *net = NULL;
		struct buf e __do_buf = BUF_INIT;
		if (onet && !str_name_invalid(onet) && svc_net_get(onet, &net, &e) == 0) {
			nic = json_pack("{s:s,s:s,s:s}", "mode", "network", "network", onet, "model", model);
		} else {
			nic = json_pack("{s:s,s:s}", "mode", "user", "model", model);
			warn(im, "NIC %d: network '%s' is not a corral network; the NIC is in user mode (give --network)",
			     i + 1, onet ? onet : "(none)");
		}
		json_decref(net);
	}
	return nic;
}

/* The descriptor checked and turned into im's disks and definition. */
static int take_descriptor(struct import *im, const json_t *d, const char *want_name, const char *network,
			   struct buf *err)
{
	const json_t *disks = json_object_get(d, "disks"), *nics = json_object_get(d, "nics");
	json_t *w, *x;
	const char *fw = json_string_value(json_object_get(d, "firmware"));
	json_int_t cpus = json_integer_value(json_object_get(d, "cpus"));
	json_int_t mem = json_integer_value(json_object_get(d, "memory_mib"));
	size_t i;

	if (!json_is_array(disks) || !json_is_array(nics) || !json_is_integer(json_object_get(d, "cpus")) ||
	    !json_is_integer(json_object_get(d, "memory_mib"))) {
		buf_printf(err, "cannot read the descriptor of %s: the image helper's answer is malformed", im->src);
		return -EIO;
	}
	json_array_foreach(json_object_get(d, "warnings"), i, w)
		if (json_is_string(w) && json_array_size(im->warnings) < 64)
			json_array_append(im->warnings, w);
	if (want_name) {
		if (str_name_invalid(want_name)) {
			buf_printf(err, "invalid vm name: %s", str_name_invalid(want_name));
			return -EINVAL;
		}
		im->name = xstrdup(want_name);
	} else if (!(im->name = name_from(json_string_value(json_object_get(d, "name"))))) {
		buf_printf(err, "the appliance %s names its VM with nothing usable as a corral name; give --name", im->src);
		return -EINVAL;
	}
	char uuid[37];
	if (store_vm_lookup(svc_cfg.store, im->name, uuid) == 0) {
		buf_printf(err, "a VM named %s exists already; give --name", im->name);
		return -EEXIST;
	}
	if (cpus < 1 || cpus > IMPORT_MAX_CPUS) {
		buf_printf(err, "the appliance asks for %lld vCPUs; corral gives 1 to %d", (long long)cpus,
			   IMPORT_MAX_CPUS);
		return -EINVAL;
	}
	if (mem < 16 || mem > 1048576) {
		buf_printf(err, "the appliance asks for %lld MiB of memory; corral gives 16 to 1048576", (long long)mem);
		return -EINVAL;
	}
	if (json_array_size(disks) > IMPORT_MAX_DISKS) {
		buf_printf(err, "the appliance has %zu disks; corral attaches at most %d", json_array_size(disks),
			   IMPORT_MAX_DISKS);
		return -EINVAL;
	}
	json_t *vdisks = json_array(), *vnics = json_array();
	int r = -EINVAL;
	json_array_foreach(disks, i, x) {
		struct import_disk *dk = &im->disks[im->ndisks++];
		const char *file = json_string_value(json_object_get(x, "file"));
		const json_t *fsize = json_object_get(x, "file_size");
		json_int_t cap = json_integer_value(json_object_get(x, "capacity"));

		dk->src_fd = -1;
		if (cap <= 0 || (uint64_t)cap > VOL_MAX_SIZE) {
			buf_printf(err, "disk %zu of the appliance has a capacity out of range", i + 1);
			goto fail;
		}
		dk->capacity = (uint64_t)cap;
		if (file) {
			if (!plain_name(file)) {
				buf_printf(err, "disk %zu of the appliance names its file with a path or unusual characters; "
						"refused", i + 1);
				goto fail;
			}
			dk->file = xstrdup(file);
			if (im->ova) {
				json_t *m = json_object_get(im->members, file);
				if (!m) {
					buf_printf(err, "disk file %s named by the descriptor is missing from %s", file,
						   im->src);
					goto fail;
				}
				dk->offset = (uint64_t)json_integer_value(json_object_get(m, "offset"));
				dk->size = (uint64_t)json_integer_value(json_object_get(m, "size"));
				im->total += dk->size;
			} else {
				__do_free char *copy = xstrdup(im->src);
				__do_free char *p = xasprintf("%s/%s", dirname(copy), file);
				struct stat st;
				__do_free char *what = xasprintf("disk file %s of the appliance", file);
				if ((dk->src_fd = hostpath_open(what, p, &st, err)) < 0) {
					r = dk->src_fd;
					goto fail;
				}
				dk->size = (uint64_t)st.st_size;
			}
			if (json_is_integer(fsize) && (uint64_t)json_integer_value(fsize) != dk->size) {
				buf_printf(err, "disk file %s is %" PRIu64 " bytes but the descriptor says %lld; refused", file,
					   dk->size, (long long)json_integer_value(fsize));
				goto fail;
			}
		}
		dk->bus = xstrdup(bus_for(im, json_string_value(json_object_get(x, "controller")),
					  json_string_value(json_object_get(x, "controller_model")), (int)i));
		dk->vol = xasprintf("%s-disk%zu", im->name, i);
		if (str_name_invalid(dk->vol)) {
			buf_printf(err, "the VM name %s is too long to name its volumes %s-diskN; give a shorter --name",
				   im->name, im->name);
			goto fail;
		}
		dk->path = vol_file_path(im->dir, dk->vol, "qcow2");
		dk->tmp = vol_tmp_path(im->dir, dk->vol, "import");
		struct vol_record v = { 0 };
		if (store_vol_get(svc_cfg.store, dk->vol, &v) == 0) {
			vol_record_release(&v);
			buf_printf(err, "volume %s already exists; give the VM another --name", dk->vol);
			r = -EEXIST;
			goto fail;
		}
		json_array_append_new(vdisks, json_pack("{s:s,s:s}", "volume", dk->vol, "bus", dk->bus));
	}
	if (im->ndisks == 0)
		warn(im, "the appliance has no disks");
	json_array_foreach(nics, i, x) {
		if (i >= IMPORT_MAX_NICS) {
			warn(im, "the appliance has %zu NICs; only the first %d are made", json_array_size(nics),
			     IMPORT_MAX_NICS);
			break;
		}
		json_array_append_new(vnics, nic_for(im, x, (int)i, network));
	}
	im->def = json_pack("{s:s,s:I,s:I,s:o,s:o}", "name", im->name, "cpus", cpus, "memory_mib", mem, "disks", vdisks,
			    "nics", vnics);
	if (fw && strcmp(fw, "efi") == 0) /* a fresh NVRAM at the first start (docs/boot.md) */
		json_object_set_new(im->def, "firmware", json_string("uefi"));
	return 0;
fail:
	json_decref(vdisks);
	json_decref(vnics);
	return r;
}

/* ---- the job ---- */

static int hex_digest(EVP_MD_CTX *ctx, char out[129])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(ctx, md, &n) != 1)
		return -EIO;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/*
 * Read [off, off+len) of fd, hash it with `alg` (NULL: no hash) and, with
 * out >= 0, write it there; progress into im's job.  hex gets the digest.
 */
static int copy_hash(struct import *im, int fd, uint64_t off, uint64_t len, int out, const char *alg, char hex[129],
		     const char *what, struct buf *err)
{
	__do_free char *buf = xmalloc(COPY_CHUNK);
	EVP_MD_CTX *ctx = alg ? EVP_MD_CTX_new() : NULL;
	int r = 0;

	if (ctx && EVP_DigestInit_ex(ctx, strcmp(alg, "sha1") == 0 ? EVP_sha1() : EVP_sha256(), NULL) != 1)
		r = -EIO;
	for (uint64_t pos = 0; pos < len && r == 0;) {
		size_t n = len - pos < COPY_CHUNK ? (size_t)(len - pos) : COPY_CHUNK;
		ssize_t got = pread(fd, buf, n, (off_t)(off + pos));
		if (got <= 0) {
			r = got < 0 ? -errno : -EIO;
			buf_printf(err, "cannot read %s from %s: %s", what, im->src,
				   got < 0 ? strerror(-r) : "the file ends early");
			break;
		}
		if (ctx && EVP_DigestUpdate(ctx, buf, (size_t)got) != 1)
			r = -EIO;
		for (ssize_t w = 0; out >= 0 && w < got && r == 0;) {
			ssize_t k = write(out, buf + w, (size_t)(got - w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				r = k < 0 ? -errno : -EIO;
				buf_printf(err, "cannot copy %s out of %s: %s", what, im->src, strerror(-r));
			}
			w += k > 0 ? k : 0;
		}
		pos += (uint64_t)got;
		if (out >= 0) {
			im->done += (uint64_t)got;
			/* an OVA's copy is the first half of the job, the conversions the second */
			job_progress(im->job, im->total ? 50.0 * (double)im->done / (double)im->total : 0, 0, -1);
		}
		if (r == 0 && job_cancelled(im->job)) {
			buf_printf(err, "import of %s cancelled; nothing was kept", im->src);
			r = -ECANCELED;
		}
	}
	if (r == 0 && ctx && hex_digest(ctx, hex) < 0)
		r = -EIO;
	if (r == -EIO && !err->len)
		buf_printf(err, "cannot compute the digest of %s", what);
	EVP_MD_CTX_free(ctx);
	return r;
}

/* Compare the digest of `name` (fd [off, off+len)) with the manifest's, or copy without one. */
static int check_member(struct import *im, const char *name, int fd, uint64_t off, uint64_t len, int out,
			struct buf *err)
{
	json_t *m = im->manifest ? json_object_get(im->manifest, name) : NULL;
	const char *alg = json_string_value(json_object_get(m, "alg"));
	char hex[129] = "";
	int r;

	if (im->manifest && !m) {
		buf_printf(err, "the manifest of %s does not list %s; refused", im->src, name);
		return -EINVAL;
	}
	if ((r = copy_hash(im, fd, off, len, out, alg, hex, name, err)) < 0)
		return r;
	if (m && strcmp(hex, json_string_value(json_object_get(m, "digest"))) != 0) {
		buf_printf(err, "%s does not match the manifest of %s (its %s differs): the appliance is damaged or "
				"was altered; refused",
			   name, im->src, alg);
		return -EINVAL;
	}
	return 0;
}

void svc_vm_import_scratch_remove(const char *dir)
{
	const char *base = dir ? strrchr(dir, '/') : NULL;
	if (!base || strncmp(base + 1, SCRATCH_PREFIX, strlen(SCRATCH_PREFIX)) != 0)
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	int dfd = dirfd(d);
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			unlinkat(dfd, e->d_name, 0);
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("cannot remove scratch directory %s: %s", dir, strerror(errno));
}

/* OVA: every disk member copied to <scratch>/disk<i>, every member the manifest lists checked. */
static int ova_extract(struct import *im, struct buf *err)
{
	const char *k;
	json_t *v;
	int r;

	im->scratch = xasprintf("%s/" SCRATCH_PREFIX "XXXXXX", im->dir);
	if (!mkdtemp(im->scratch)) {
		r = -errno;
		buf_printf(err, "cannot make a scratch directory in %s: %s", im->dir, strerror(-r));
		free(im->scratch);
		im->scratch = NULL;
		return r;
	}
	job_record_result(im->job, json_pack("{s:s,s:o}", "scratch", im->scratch, "volumes", json_array()));
	job_set_phase(im->job, "copying the disks out of the archive");
	for (int i = 0; i < im->ndisks; i++) {
		struct import_disk *dk = &im->disks[i];
		if (!dk->file)
			continue;
		__do_free char *p = xasprintf("%s/disk%d", im->scratch, i);
		int out = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0) {
			r = -errno;
			buf_printf(err, "cannot create %s: %s", p, strerror(-r));
			return r;
		}
		r = check_member(im, dk->file, im->src_fd, dk->offset, dk->size, out, err);
		if (r == 0 && fsync(out) < 0)
			r = -errno;
		close(out);
		if (r < 0)
			return r;
		dk->src_fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (dk->src_fd < 0) {
			r = -errno;
			buf_printf(err, "cannot open %s: %s", p, strerror(-r));
			return r;
		}
	}
	/* The other members the manifest lists (the descriptor, certificates): hashed in place. */
	if (im->manifest) {
		json_object_foreach(im->manifest, k, v) {
			bool disk = false;
			for (int i = 0; i < im->ndisks; i++)
				disk |= im->disks[i].file && strcmp(im->disks[i].file, k) == 0;
			if (disk)
				continue;
			json_t *m = json_object_get(im->members, k);
			if (!m) {
				buf_printf(err, "the manifest of %s lists %s, which the archive does not hold; refused",
					   im->src, k);
				return -EINVAL;
			}
			if ((r = check_member(im, k, im->src_fd, (uint64_t)json_integer_value(json_object_get(m, "offset")),
					      (uint64_t)json_integer_value(json_object_get(m, "size")), -1, err)) < 0)
				return r;
		}
		if (!json_object_get(im->manifest, im->ovf_name)) {
			buf_printf(err, "the manifest of %s does not list the descriptor %s; refused", im->src, im->ovf_name);
			return -EINVAL;
		}
	}
	return 0;
}

/* OVF: with a manifest, the descriptor and every disk file are hashed before anything is converted. */
static int ovf_verify(struct import *im, struct buf *err)
{
	struct stat st;
	int r;

	if (!im->manifest)
		return 0;
	job_set_phase(im->job, "checking the manifest");
	if (fstat(im->src_fd, &st) < 0)
		return -errno;
	if ((r = check_member(im, im->ovf_name, im->src_fd, 0, (uint64_t)st.st_size, -1, err)) < 0)
		return r;
	for (int i = 0; i < im->ndisks; i++)
		if (im->disks[i].file &&
		    (r = check_member(im, im->disks[i].file, im->disks[i].src_fd, 0, im->disks[i].size, -1, err)) < 0)
			return r;
	return 0;
}

struct conv_progress {
	struct import *im;
	int i;
};

static int conv_progress(void *opaque, double percent, double rate, int64_t eta_s)
{
	struct conv_progress *p = opaque;
	double base = p->im->ova ? 50.0 : 0.0; /* an OVA's copy was the first half */
	(void)eta_s;
	if (percent >= 0)
		job_progress(p->im->job, base + (100.0 - base) * (p->i + percent / 100.0) / p->im->ndisks, rate, -1);
	return job_cancelled(p->im->job);
}

static int convert_disk(struct import *im, int i, struct buf *err)
{
	struct import_disk *dk = &im->disks[i];
	__do_free char *detected = NULL;
	__do_free char *label = NULL;
	struct conv_progress p = { im, i };
	uint64_t vsize;
	int r;

	job_set_phase(im->job, "converting disk %d of %d", i + 1, im->ndisks);
	if (!dk->file)
		return vol_create(svc_cfg.store, im->dir, dk->vol, dk->capacity, "qcow2", err);
	if (im->ova) {
		label = xasprintf("%s/%s", im->src, dk->file);
	} else {
		__do_free char *copy = xstrdup(im->src);
		label = xasprintf("%s/%s", dirname(copy), dk->file);
	}
	if ((r = vol_import_probe_fd(svc_cfg.store, dk->src_fd, label, dk->vol, "qcow2", NULL, &vsize, &detected, err)) < 0)
		return r;
	if (strcmp(detected, "raw") == 0 && (r = svc_raw_source_check(dk->src_fd, label, err)) < 0)
		return r;
	if (vsize > dk->capacity) {
		buf_printf(err, "disk file %s holds %" PRIu64 " bytes of disk but the descriptor says %" PRIu64
				"; refused",
			   dk->file, vsize, dk->capacity);
		return -EINVAL;
	}
	return vol_import_fmt_fd(svc_cfg.store, im->dir, dk->src_fd, label, dk->vol, "qcow2", detected, conv_progress,
				 &p, err);
}

static void import_undo(struct import *im)
{
	while (im->created > 0) {
		struct buf e __do_buf = BUF_INIT;
		struct import_disk *dk = &im->disks[--im->created];
		if (vol_delete(svc_cfg.store, dk->vol, &e) < 0)
			log_warn("vm import %s: cannot remove volume %s: %s", im->name, dk->vol, e.s);
	}
}

static int import_run(struct job *j, void *arg, struct buf *err)
{
	struct import *im = arg;
	json_t *out = NULL;
	bool started = false;
	int r = 0;

	im->job = j;
	{
		json_t *vols = json_array();
		for (int i = 0; i < im->ndisks; i++)
			json_array_append_new(vols, json_pack("{s:s,s:s,s:s}", "name", im->disks[i].vol, "path",
							      im->disks[i].path, "tmp", im->disks[i].tmp));
		job_record_result(j, json_pack("{s:o,s:o}", "volumes", vols, "scratch", json_null()));
	}
	r = im->ova ? ova_extract(im, err) : ovf_verify(im, err);
	if (r == 0) {
		/* the scratch directory is recorded from here on */
		json_t *vols = json_array();
		for (int i = 0; i < im->ndisks; i++)
			json_array_append_new(vols, json_pack("{s:s,s:s,s:s}", "name", im->disks[i].vol, "path",
							      im->disks[i].path, "tmp", im->disks[i].tmp));
		job_record_result(j, json_pack("{s:o,s:o}", "volumes", vols, "scratch",
					       im->scratch ? json_string(im->scratch) : json_null()));
	}
	for (int i = 0; i < im->ndisks && r == 0; i++)
		if ((r = convert_disk(im, i, err)) == 0)
			im->created = i + 1;
	if (im->scratch) {
		svc_vm_import_scratch_remove(im->scratch);
	}
	if (r == 0 && job_cancelled(j)) {
		buf_printf(err, "import of %s cancelled; nothing was kept", im->src);
		r = -ECANCELED;
	}
	if (r == 0) {
		job_set_uncancellable(j, "the VM is being defined");
		r = svc_vm_create(im->def, &out, err);
	}
	if (r < 0) {
		import_undo(im);
		if (r != -ECANCELED)
			log_warn("vm import of %s failed: %s", im->src, err->s);
		return r;
	}
	const char *uuid = json_string_value(json_object_get(out, "uuid"));
	if (uuid) {
		__do_free char *detail = xasprintf("imported from %s", im->src);
		svc_vm_event(uuid, "import", detail);
	}
	if (im->start && uuid) {
		struct svc_action_opts o = { 0 };
		struct buf e __do_buf = BUF_INIT;
		job_set_phase(j, "starting the VM");
		if (svc_vm_action(uuid, ACT_START, &o, &e) == 0)
			started = true;
		else
			warn(im, "the VM was imported but did not start: %s", e.s);
	}
	json_t *vols = json_array();
	for (int i = 0; i < im->ndisks; i++)
		json_array_append_new(vols, json_string(im->disks[i].vol));
	job_set_result(j, json_pack("{s:s,s:o,s:o,s:O,s:b}", "vm", im->name, "uuid", uuid ? json_string(uuid) : json_null(),
				    "volumes", vols, "warnings", im->warnings, "started", started));
	json_decref(out);
	log_info("imported %s as vm %s (%d disks, %zu warnings)", im->src, im->name, im->ndisks,
		 json_array_size(im->warnings));
	return 0;
}

/* ---- the request ---- */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* OVA: the helper's index, descriptor and manifest into im; *desc the descriptor. */
static int read_ova(struct import *im, json_t **desc, struct buf *err)
{
	__do_json json_t *res = NULL;
	const json_t *m;
	size_t i;
	int r;

	if ((r = helper_ask(im->src_fd, im->src, "ova", &res, err)) < 0)
		return r;
	const json_t *members = json_object_get(res, "members");
	const char *ovf = json_string_value(json_object_get(res, "ovf"));
	struct stat st;
	if (fstat(im->src_fd, &st) < 0)
		return -errno;
	if (!json_is_array(members) || !ovf || !json_is_object(json_object_get(res, "descriptor")))
		goto bad;
	im->members = json_object();
	json_array_foreach(members, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		json_int_t off = json_integer_value(json_object_get(m, "offset"));
		json_int_t size = json_integer_value(json_object_get(m, "size"));
		/* checked again: the archive's bounds and names are the helper's word */
		if (!plain_name(name) || off <= 0 || size < 0 || (uint64_t)off > (uint64_t)st.st_size ||
		    (uint64_t)size > (uint64_t)st.st_size - (uint64_t)off || json_object_get(im->members, name))
			goto bad;
		json_object_set_new(im->members, name, json_pack("{s:I,s:I}", "offset", off, "size", size));
	}
	if (!json_object_get(im->members, ovf))
		goto bad;
	im->ovf_name = xstrdup(ovf);
	if ((r = manifest_take(im, json_object_get(res, "manifest"), im->src, err)) < 0)
		return r;
	*desc = json_incref(json_object_get(res, "descriptor"));
	return 0;
bad:
	buf_printf(err, "cannot read %s: the image helper's answer is malformed", im->src);
	return -EIO;
}

/* OVF: the descriptor, and the manifest next to it (same name, .mf) if there is one. */
static int read_ovf(struct import *im, json_t **desc, struct buf *err)
{
	__do_json json_t *res = NULL, *mres = NULL;
	int r;

	if ((r = helper_ask(im->src_fd, im->src, "ovf", &res, err)) < 0)
		return r;
	if (!json_is_object(json_object_get(res, "descriptor"))) {
		buf_printf(err, "cannot read %s: the image helper's answer is malformed", im->src);
		return -EIO;
	}
	__do_free char *copy = xstrdup(im->src);
	im->ovf_name = xstrdup(basename(copy));
	__do_free char *mf = xasprintf("%.*s.mf", (int)(strlen(im->src) - 4), im->src);
	struct stat st;
	struct buf e __do_buf = BUF_INIT;
	if (lstat(mf, &st) == 0) {
		__do_close int mfd = hostpath_open("manifest", mf, NULL, err);
		if (mfd < 0)
			return mfd;
		if ((r = helper_ask(mfd, mf, "mf", &mres, err)) < 0 ||
		    (r = manifest_take(im, json_object_get(mres, "manifest"), mf, err)) < 0)
			return r;
	}
	*desc = json_incref(json_object_get(res, "descriptor"));
	return 0;
}

/* Enough room in the pool for the copies out of the OVA (the conversions check their own). */
static int check_scratch_room(struct import *im, struct buf *err)
{
	struct statvfs sv;
	char a[16], b[16];
	if (!im->ova || statvfs(im->dir, &sv) < 0)
		return 0;
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (avail < im->total + (64ull << 20)) {
		buf_printf(err, "not enough space in %s to copy the disks out of %s: %s needed, %s free", im->dir, im->src,
			   str_fmt_size(im->total, a, sizeof(a)), str_fmt_size(avail, b, sizeof(b)));
		return -ENOSPC;
	}
	return 0;
}

int svc_vm_import(const char *path, const struct svc_import_opts *o, json_t **job, struct buf *err)
{
	__do_json json_t *desc = NULL;
	struct import *im;
	int r;

	if (!path || path[0] != '/') {
		buf_adds(err, "the appliance path must be absolute");
		return -EINVAL;
	}
	if (str_has_control(path)) {
		buf_adds(err, "the appliance path contains control characters");
		return -EINVAL;
	}
	if (o->network && str_name_invalid(o->network)) {
		buf_printf(err, "invalid network name: %s", str_name_invalid(o->network));
		return -EINVAL;
	}
	if (o->network) {
		json_t *net = NULL;
		if ((r = svc_net_get(o->network, &net, err)) < 0)
			return r;
		json_decref(net);
	}
	im = xcalloc(1, sizeof(*im));
	im->src_fd = -1;
	im->warnings = json_array();
	im->src = xstrdup(path);
	im->start = o->start;
	im->pool = o->pool ? xstrdup(o->pool) : NULL;
	if (has_suffix(path, ".ova")) {
		im->ova = true;
	} else if (!has_suffix(path, ".ovf")) {
		buf_printf(err, "%s is neither an .ova archive nor an .ovf descriptor", path);
		r = -EINVAL;
		goto fail;
	}
	if ((r = im->src_fd = hostpath_open("appliance", path, NULL, err)) < 0)
		goto fail;
	/* the pool first: disk names and paths are made from its directory */
	if ((r = svc_pool_hold(o->pool, &im->dir, err)) < 0)
		goto fail;
	if ((r = im->ova ? read_ova(im, &desc, err) : read_ovf(im, &desc, err)) < 0)
		goto fail;
	if ((r = take_descriptor(im, desc, o->name, o->network, err)) < 0 ||
	    (r = svc_poolview_name_free(im->name, err)) < 0)
		goto fail;
	if (!svc_vm_name_claim(im->name)) {
		buf_printf(err, "a VM named '%s' is being made already (a clone or an import)", im->name);
		r = -EEXIST;
		goto fail;
	}
	im->claimed = true;
	if ((r = check_scratch_room(im, err)) < 0)
		goto fail;
	struct job_spec spec = { .type = "vm-import", .target = im->name, .run = import_run, .arg = im,
				 .free_arg = import_free };
	return job_start(&spec, job, err); /* im is freed by the job (or by job_start on failure) */
fail:
	import_free(im);
	return r;
}
