/*
 * ovf.c - the OVF descriptor of an appliance, read with libxml2 (see
 * appliance.h for what comes out).
 *
 * OVF (DMTF DSP0243) describes one virtual machine as an XML Envelope: a
 * References section lists the files (disk images), a DiskSection the
 * virtual disks (capacity, format, which file), a NetworkSection the
 * networks, and the VirtualSystem's VirtualHardwareSection a list of CIM
 * resource items (processor, memory, controllers, disks, NICs, CD-ROM,
 * USB, sound...).  VMware writes OVF 1.x "Item"s with vmw:Config entries
 * (firmware among them); VirtualBox writes OVF 1.0 or 2.0 (StorageItem,
 * EthernetPortItem) and a vbox:Machine copy of its own settings.  Elements
 * and attributes are matched by local name, whatever prefix the writer
 * chose.
 *
 * The document is untrusted: the parser is told not to touch the network,
 * not to load a DTD and not to substitute entities, and a document that
 * declares a DOCTYPE or an entity at all is refused before libxml2 sees it
 * (no "billion laughs", no external entities).  Text values are bounded and
 * what corral cannot make (USB, sound, serial ports, vApp properties, a
 * CD-ROM medium...) becomes a warning sentence instead of being dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "image/appliance.h"
#include "util/common.h"

#define OVF_MAX_TEXT 256
#define OVF_MAX_ITEMS 256
#define OVF_MAX_CPUS 1024

/* ---- small helpers over the tree ---- */

static bool is_el(const xmlNode *n, const char *local)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, local) == 0;
}

static xmlNode *child(const xmlNode *n, const char *local)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is_el(c, local))
			return c;
	return NULL;
}

/* Attribute by local name (any namespace), trimmed, at most OVF_MAX_TEXT bytes; caller frees. */
static char *attr(const xmlNode *n, const char *local)
{
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		if (strcmp((const char *)a->name, local) != 0)
			continue;
		xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
		char *s = xstrdup(v ? (const char *)v : "");
		xmlFree(v);
		if (strlen(s) > OVF_MAX_TEXT)
			s[OVF_MAX_TEXT] = '\0';
		return s;
	}
	return NULL;
}

/* Text of the child element `local` (trimmed, bounded), or NULL; caller frees. */
static char *child_text(const xmlNode *n, const char *local)
{
	xmlNode *c = child(n, local);
	if (!c)
		return NULL;
	xmlChar *v = xmlNodeGetContent(c);
	const char *s = v ? (const char *)v : "";
	s += strspn(s, " \t\r\n");
	size_t len = strlen(s);
	while (len && strchr(" \t\r\n", s[len - 1]))
		len--;
	if (len > OVF_MAX_TEXT)
		len = OVF_MAX_TEXT;
	char *out = xstrndup(s, len);
	xmlFree(v);
	return out;
}

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	end += strspn(end, " ");
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * A unit ("byte", "byte * 2^20", "byte*10^9", "MegaBytes", "KB"...) as a
 * multiplier of bytes; NULL means def.  -EINVAL for anything else.
 */
static int parse_units(const char *u, uint64_t def, uint64_t *mult)
{
	static const struct { const char *name; uint64_t m; } words[] = {
		{ "byte", 1 },	       { "bytes", 1 },		{ "KB", 1ull << 10 },
		{ "KiloBytes", 1ull << 10 }, { "MB", 1ull << 20 },	{ "MegaBytes", 1ull << 20 },
		{ "GB", 1ull << 30 },	     { "GigaBytes", 1ull << 30 }, { "TB", 1ull << 40 },
	};
	char compact[64];
	size_t k = 0;
	unsigned base, exp;
	char tail;

	if (!u || !*u) {
		*mult = def;
		return 0;
	}
	for (const char *p = u; *p && k < sizeof(compact) - 1; p++)
		if (*p != ' ')
			compact[k++] = *p;
	compact[k] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcasecmp(compact, words[i].name) == 0) {
			*mult = words[i].m;
			return 0;
		}
	if (sscanf(compact, "byte*%u^%u%c", &base, &exp, &tail) != 2)
		return -EINVAL;
	uint64_t m = 1;
	if (base == 2 && exp <= 50)
		m = 1ull << exp;
	else if (base == 10 && exp <= 15)
		for (unsigned i = 0; i < exp; i++)
			m *= 10;
	else
		return -EINVAL;
	*mult = m;
	return 0;
}

/* quantity * units into *bytes, refusing overflow. */
static int quantity_bytes(const char *q, const char *units, uint64_t def, uint64_t *bytes)
{
	uint64_t v, m;
	if (parse_u64(q, &v) < 0 || parse_units(units, def, &m) < 0)
		return -EINVAL;
	if (m && v > UINT64_MAX / m)
		return -EINVAL;
	*bytes = v * m;
	return 0;
}

/* ---- the parse ---- */

struct ovf {
	xmlNode *env, *vs, *hw;
	json_t *files;		/* id -> {"href","size","compressed"} */
	json_t *disks;		/* diskId -> disk object (without controller) */
	json_t *controllers;	/* InstanceID -> {"kind","model"} */
	json_t *out_disks, *nics, *warnings;
	uint64_t cpus, memory;
	bool have_cpus, have_mem;
	char *firmware;
};

static void warn(struct ovf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct ovf *o, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	struct buf clean = BUF_INIT;
	buf_add_printable(&clean, b.s, b.len);
	if (json_array_size(o->warnings) < 64)
		json_array_append_new(o->warnings, json_string(clean.s));
	buf_release(&b);
	buf_release(&clean);
}

static int read_references(struct ovf *o, struct buf *err)
{
	xmlNode *refs = child(o->env, "References");
	for (xmlNode *f = refs ? refs->children : NULL; f; f = f->next) {
		if (!is_el(f, "File"))
			continue;
		__do_free char *id = attr(f, "id"), *href = attr(f, "href"), *size = attr(f, "size");
		__do_free char *comp = attr(f, "compression"), *chunk = attr(f, "chunkSize");
		uint64_t sz = 0;
		if (!id || !href || !*id || !*href) {
			buf_adds(err, "a File in the descriptor's References has no id or href");
			return -EINVAL;
		}
		if (json_object_size(o->files) >= OVA_MAX_MEMBERS) {
			buf_printf(err, "the descriptor references more than %d files", OVA_MAX_MEMBERS);
			return -EFBIG;
		}
		if (size && parse_u64(size, &sz) < 0) {
			buf_printf(err, "file %s in the descriptor has an unreadable size", href);
			return -EINVAL;
		}
		if (chunk) {
			buf_printf(err, "file %s is split into chunks (ovf:chunkSize); join it first", href);
			return -ENOTSUP;
		}
		if (comp && *comp && strcmp(comp, "identity") != 0) {
			buf_printf(err, "file %s is %s-compressed (ovf:compression); decompress it first", href, comp);
			return -ENOTSUP;
		}
		if (json_object_get(o->files, id)) {
			buf_printf(err, "the descriptor references file id %s twice", id);
			return -EINVAL;
		}
		json_object_set_new(o->files, id, json_pack("{s:s,s:o}", "href", href, "size",
							    size ? json_integer((json_int_t)sz) : json_null()));
	}
	return 0;
}

static int read_disks(struct ovf *o, struct buf *err)
{
	xmlNode *ds = child(o->env, "DiskSection");
	if (!ds)
		ds = child(o->vs, "DiskSection");
	for (xmlNode *d = ds ? ds->children : NULL; d; d = d->next) {
		if (!is_el(d, "Disk"))
			continue;
		__do_free char *id = attr(d, "diskId"), *ref = attr(d, "fileRef"), *cap = attr(d, "capacity");
		__do_free char *units = attr(d, "capacityAllocationUnits"), *format = attr(d, "format");
		uint64_t bytes;
		json_t *file = NULL;

		if (!id || !*id || !cap) {
			buf_adds(err, "a Disk in the descriptor has no diskId or capacity");
			return -EINVAL;
		}
		if (json_object_size(o->disks) >= OVF_MAX_DISKS) {
			buf_printf(err, "the descriptor has more than %d disks", OVF_MAX_DISKS);
			return -EFBIG;
		}
		if (quantity_bytes(cap, units, 1, &bytes) < 0 || bytes == 0) {
			buf_printf(err, "disk %s has an unreadable capacity (%s %s)", id, cap, units ? units : "bytes");
			return -EINVAL;
		}
		if (ref && *ref && !(file = json_object_get(o->files, ref))) {
			buf_printf(err, "disk %s refers to file %s, which the References section does not list", id, ref);
			return -EINVAL;
		}
		if (json_object_get(o->disks, id)) {
			buf_printf(err, "the descriptor defines disk %s twice", id);
			return -EINVAL;
		}
		json_object_set_new(o->disks, id,
				    json_pack("{s:s,s:o,s:o,s:I,s:o}", "id", id, "file",
					      file ? json_incref(json_object_get(file, "href")) : json_null(), "file_size",
					      file ? json_incref(json_object_get(file, "size")) : json_null(), "capacity",
					      (json_int_t)bytes, "format", opt_str(format)));
	}
	return 0;
}

/* One resource item's fields, by local name whatever its namespace (rasd, sasd, epasd). */
struct item {
	char *type, *sub, *id, *parent, *host, *conn, *qty, *units, *elname;
	bool required;
};

static void item_release(struct item *it)
{
	free(it->type);
	free(it->sub);
	free(it->id);
	free(it->parent);
	free(it->host);
	free(it->conn);
	free(it->qty);
	free(it->units);
	free(it->elname);
}

static void item_read(xmlNode *n, struct item *it)
{
	__do_free char *req = attr(n, "required");
	it->type = child_text(n, "ResourceType");
	it->sub = child_text(n, "ResourceSubType");
	it->id = child_text(n, "InstanceID");
	it->parent = child_text(n, "Parent");
	it->host = child_text(n, "HostResource");
	it->conn = child_text(n, "Connection");
	it->qty = child_text(n, "VirtualQuantity");
	it->units = child_text(n, "AllocationUnits");
	it->elname = child_text(n, "ElementName");
	it->required = !req || strcmp(req, "false") != 0;
}

static const char *item_label(const struct item *it)
{
	return it->elname && *it->elname ? it->elname : it->sub && *it->sub ? it->sub : "an item";
}

static void add_controller(struct ovf *o, const struct item *it, const char *kind)
{
	if (!it->id)
		return;
	json_object_set_new(o->controllers, it->id,
			    json_pack("{s:s,s:o}", "kind", kind, "model", opt_str(it->sub)));
}

static const char *storage_kind(const char *sub)
{
	if (!sub)
		return "other";
	if (strcasestr(sub, "ahci") || strcasestr(sub, "sata"))
		return "sata";
	if (strcasestr(sub, "nvme"))
		return "nvme";
	if (strcasestr(sub, "scsi") || strcasestr(sub, "lsi") || strcasestr(sub, "buslogic"))
		return "scsi";
	if (strcasestr(sub, "ide") || strcasestr(sub, "piix"))
		return "ide";
	return "other";
}

static int item_disk(struct ovf *o, const struct item *it, struct buf *err)
{
	const char *h = it->host;
	if (!h) {
		warn(o, "disk drive '%s' names no disk and is not made", item_label(it));
		return 0;
	}
	if (strncmp(h, "ovf:", 4) == 0)
		h += 4;
	if (strncmp(h, "/disk/", 6) != 0) {
		warn(o, "disk drive '%s' refers to %s, which is not a disk of the descriptor: not made", item_label(it),
		     it->host);
		return 0;
	}
	json_t *d = json_object_get(o->disks, h + 6);
	if (!d) {
		buf_printf(err, "disk drive '%s' refers to disk %s, which the DiskSection does not define",
			   item_label(it), h + 6);
		return -EINVAL;
	}
	if (json_object_get(d, "used")) {
		buf_printf(err, "disk %s is attached twice", h + 6);
		return -EINVAL;
	}
	json_object_set_new(d, "used", json_true());
	json_t *ctl = it->parent ? json_object_get(o->controllers, it->parent) : NULL;
	json_t *copy = json_deep_copy(d);
	json_object_del(copy, "used");
	json_object_set_new(copy, "controller", json_string(ctl ? json_string_value(json_object_get(ctl, "kind")) : "other"));
	json_object_set(copy, "controller_model", ctl ? json_object_get(ctl, "model") : json_null());
	json_array_append_new(o->out_disks, copy);
	return 0;
}

static int item_one(struct ovf *o, const struct item *it, bool pass_devices, struct buf *err)
{
	uint64_t t, v;

	if (!it->type || parse_u64(it->type, &t) < 0) {
		if (!pass_devices)
			warn(o, "hardware item '%s' has no resource type and is ignored", item_label(it));
		return 0;
	}
	/* First pass: controllers, CPUs, memory (disks refer to controllers by id). */
	if (!pass_devices) {
		switch (t) {
		case 3:
			if (parse_u64(it->qty, &v) < 0 || v == 0 || v > OVF_MAX_CPUS) {
				buf_printf(err, "the processor item has an unreadable or out-of-range count (%s)",
					   it->qty ? it->qty : "none");
				return -EINVAL;
			}
			o->cpus = v;
			o->have_cpus = true;
			break;
		case 4:
			if (quantity_bytes(it->qty, it->units, 1ull << 20, &v) < 0 || v < (1ull << 20)) {
				buf_printf(err, "the memory item has an unreadable size (%s %s)", it->qty ? it->qty : "none",
					   it->units ? it->units : "");
				return -EINVAL;
			}
			o->memory = v;
			o->have_mem = true;
			break;
		case 5: add_controller(o, it, "ide"); break;
		case 6: add_controller(o, it, "scsi"); break;
		case 20: add_controller(o, it, storage_kind(it->sub)); break;
		default: break;
		}
		return 0;
	}
	switch (t) {
	case 3: case 4: case 5: case 6: case 20:
		return 0;
	case 17:
		return item_disk(o, it, err);
	case 10:
		if (json_array_size(o->nics) >= OVF_MAX_NICS) {
			warn(o, "network adapter '%s' is beyond the %d NICs a VM has and is not made", item_label(it),
			     OVF_MAX_NICS);
			return 0;
		}
		json_array_append_new(o->nics, json_pack("{s:o,s:o}", "network", opt_str(it->conn), "model",
							 opt_str(it->sub)));
		return 0;
	case 15: case 16:
		if (it->host && *it->host)
			warn(o, "CD/DVD drive '%s' holds %s, which is not imported (insert media with corral cdrom)",
			     item_label(it), it->host);
		return 0;
	case 14: warn(o, "floppy drive '%s' is not made (corral VMs have none)", item_label(it)); return 0;
	case 21: warn(o, "serial port '%s' is not made (the VM's serial port is its console)", item_label(it)); return 0;
	case 22: warn(o, "parallel port '%s' is not made", item_label(it)); return 0;
	case 23: warn(o, "USB controller '%s' is not made", item_label(it)); return 0;
	case 24: warn(o, "graphics adapter '%s' is not made (corral gives a standard VGA)", item_label(it)); return 0;
	case 35: warn(o, "sound card '%s' is not made", item_label(it)); return 0;
	default:
		warn(o, "hardware item '%s' (resource type %" PRIu64 "%s%s) is not made%s", item_label(it), t,
		     it->sub ? ", " : "", it->sub ? it->sub : "", it->required ? " although the descriptor requires it" : "");
		return 0;
	}
}

static int read_hardware(struct ovf *o, struct buf *err)
{
	size_t count = 0;
	json_t *ignored = json_array();
	int r = 0;

	for (int pass = 0; pass < 2 && r == 0; pass++) {
		for (xmlNode *n = o->hw->children; n && r == 0; n = n->next) {
			if (is_el(n, "Item") || is_el(n, "StorageItem") || is_el(n, "EthernetPortItem")) {
				struct item it = { 0 };
				if (pass == 0 && ++count > OVF_MAX_ITEMS) {
					buf_printf(err, "the descriptor has more than %d hardware items", OVF_MAX_ITEMS);
					r = -EFBIG;
					break;
				}
				item_read(n, &it);
				r = item_one(o, &it, pass == 1, err);
				item_release(&it);
			} else if (pass == 0 && is_el(n, "Config")) {
				__do_free char *key = attr(n, "key"), *value = attr(n, "value");
				if (key && strcmp(key, "firmware") == 0 && value) {
					free(o->firmware);
					o->firmware = xstrdup(value);
				} else if (key && json_array_size(ignored) < 16) {
					json_array_append_new(ignored, json_string(key));
				}
			}
		}
	}
	if (json_array_size(ignored)) {
		struct buf b = BUF_INIT;
		size_t i;
		json_t *k;
		json_array_foreach(ignored, i, k)
			buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(k));
		warn(o, "hypervisor settings ignored: %s", b.s);
		buf_release(&b);
	}
	json_decref(ignored);
	return r;
}

/* VirtualBox keeps its own settings in vbox:Machine: Hardware/Firmware type="EFI". */
static void read_vbox_firmware(struct ovf *o)
{
	xmlNode *m = child(o->vs, "Machine");
	xmlNode *fw = child(child(m, "Hardware"), "Firmware");
	if (fw && !o->firmware) {
		__do_free char *type = attr(fw, "type");
		if (type)
			o->firmware = xstrdup(type);
	}
}

static void read_sections(struct ovf *o)
{
	static const char *const known[] = { "Info", "Name", "OperatingSystemSection", "VirtualHardwareSection",
					     "AnnotationSection", "Machine", "DiskSection", "Description" };
	for (xmlNode *n = o->vs->children; n; n = n->next) {
		size_t i;
		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (i = 0; i < ARRAY_SIZE(known) && !is_el(n, known[i]); i++)
			;
		if (i < ARRAY_SIZE(known))
			continue;
		if (is_el(n, "ProductSection"))
			warn(o, "the appliance's product properties (ProductSection) are not passed to the guest");
		else if (is_el(n, "EulaSection"))
			warn(o, "the appliance comes with a licence agreement (EulaSection); read it in the descriptor");
		else if (is_el(n, "DeploymentOptionSection"))
			warn(o, "deployment options (DeploymentOptionSection) are ignored: the default hardware is used");
		else
			warn(o, "section %s of the descriptor is ignored", (const char *)n->name);
	}
}

static const char *firmware_norm(const char *fw)
{
	if (!fw)
		return NULL;
	if (strcasecmp(fw, "efi") == 0 || strncasecmp(fw, "efi", 3) == 0 || strcasecmp(fw, "uefi") == 0)
		return "efi";
	if (strcasecmp(fw, "bios") == 0)
		return "bios";
	return "unknown";
}

static int parse_tree(struct ovf *o, json_t **out, struct buf *err)
{
	int r;

	if (!is_el(o->env, "Envelope")) {
		buf_adds(err, "the descriptor is not an OVF document (its root element is not an Envelope)");
		return -EINVAL;
	}
	if (child(o->env, "VirtualSystemCollection")) {
		buf_adds(err, "the appliance holds several virtual machines (VirtualSystemCollection); import them one "
			      "at a time");
		return -ENOTSUP;
	}
	o->vs = child(o->env, "VirtualSystem");
	if (!o->vs) {
		buf_adds(err, "the descriptor has no VirtualSystem");
		return -EINVAL;
	}
	for (xmlNode *n = o->vs->next; n; n = n->next)
		if (is_el(n, "VirtualSystem")) {
			buf_adds(err, "the descriptor has more than one VirtualSystem");
			return -ENOTSUP;
		}
	o->hw = child(o->vs, "VirtualHardwareSection");
	if (!o->hw) {
		buf_adds(err, "the descriptor's VirtualSystem has no VirtualHardwareSection");
		return -EINVAL;
	}
	for (xmlNode *n = o->hw->next; n; n = n->next)
		if (is_el(n, "VirtualHardwareSection")) {
			warn(o, "only the first VirtualHardwareSection is used");
			break;
		}
	if ((r = read_references(o, err)) < 0 || (r = read_disks(o, err)) < 0 || (r = read_hardware(o, err)) < 0)
		return r;
	read_vbox_firmware(o);
	read_sections(o);
	if (!o->have_cpus || !o->have_mem) {
		buf_printf(err, "the descriptor's hardware has no %s item", !o->have_cpus ? "processor" : "memory");
		return -EINVAL;
	}
	const char *k;
	json_t *d;
	json_object_foreach(o->disks, k, d)
		if (!json_object_get(d, "used"))
			warn(o, "disk %s is not attached to the virtual machine and is not imported", k);

	__do_free char *name = child_text(o->vs, "Name");
	if (!name || !*name) {
		free(name);
		name = attr(o->vs, "id");
	}
	xmlNode *os = child(o->vs, "OperatingSystemSection");
	__do_free char *osdesc = os ? child_text(os, "Description") : NULL;
	if (os && !osdesc)
		osdesc = attr(os, "osType");
	const char *fw = firmware_norm(o->firmware);
	if (fw && strcmp(fw, "unknown") == 0)
		warn(o, "firmware '%s' is unknown; BIOS is used", o->firmware);
	*out = json_pack("{s:o,s:I,s:I,s:o,s:o,s:O,s:O,s:O}", "name", opt_str(name && *name ? name : NULL), "cpus",
			 (json_int_t)o->cpus, "memory_mib", (json_int_t)((o->memory + (1ull << 20) - 1) >> 20),
			 "firmware", fw && strcmp(fw, "unknown") != 0 ? json_string(fw) : json_null(), "os",
			 opt_str(osdesc && *osdesc ? osdesc : NULL), "disks", o->out_disks, "nics", o->nics,
			 "warnings", o->warnings);
	if (!*out) {
		buf_adds(err, "the descriptor holds text that is not valid UTF-8");
		return -EINVAL;
	}
	return 0;
}

/* A DOCTYPE or entity declaration anywhere: refused before libxml2 reads it. */
static bool declares_dtd(const char *xml, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++)
		if (xml[i] == '<' && xml[i + 1] == '!' && (xml[i + 2] == 'D' || xml[i + 2] == 'E' || xml[i + 2] == 'd' ||
							  xml[i + 2] == 'e'))
			return true;
	return false;
}

int ovf_parse(const char *xml, size_t len, json_t **out, struct buf *err)
{
	struct ovf o = { 0 };
	xmlDoc *doc;
	int r;

	*out = NULL;
	if (len > OVF_MAX_SIZE) {
		buf_printf(err, "the descriptor is %zu bytes, more than the %u an OVF descriptor may have", len,
			   OVF_MAX_SIZE);
		return -EFBIG;
	}
	if (len == 0 || memchr(xml, '\0', len)) {
		buf_adds(err, "the descriptor is empty or holds NUL bytes: not an OVF document");
		return -EINVAL;
	}
	if (declares_dtd(xml, len)) {
		buf_adds(err, "the descriptor declares a DOCTYPE or entities, which an OVF descriptor never needs; refused");
		return -EINVAL;
	}
	xmlInitParser();
	doc = xmlReadMemory(xml, (int)len, "descriptor.ovf", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		buf_adds(err, "the descriptor is not well-formed XML");
		if (e && e->message) {
			buf_printf(err, " (line %d: ", e->line);
			size_t ml = strlen(e->message);
			while (ml && e->message[ml - 1] == '\n')
				ml--;
			buf_add_printable(err, e->message, ml);
			buf_addch(err, ')');
		}
		xmlResetLastError();
		return -EINVAL;
	}
	if (doc->intSubset || doc->extSubset) {
		xmlFreeDoc(doc);
		buf_adds(err, "the descriptor declares a DOCTYPE; refused");
		return -EINVAL;
	}
	o.env = xmlDocGetRootElement(doc);
	o.files = json_object();
	o.disks = json_object();
	o.controllers = json_object();
	o.out_disks = json_array();
	o.nics = json_array();
	o.warnings = json_array();
	r = parse_tree(&o, out, err);
	json_decref(o.files);
	json_decref(o.disks);
	json_decref(o.controllers);
	json_decref(o.out_disks);
	json_decref(o.nics);
	json_decref(o.warnings);
	free(o.firmware);
	xmlFreeDoc(doc);
	return r;
}
