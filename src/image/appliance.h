/*
 * appliance.h - reading what an appliance file says, and what a file that
 * is offered as a disk really is: the tar index of an OVA (ova_tar.c), the
 * OVF descriptor (ovf.c), its manifest (ovf_mf.c), and a first look at a
 * file's leading bytes (sniff.c).
 *
 * Every input here comes from whoever made the file, so it is treated as
 * hostile: the tar reader reads ustar headers only (no extraction: it
 * reports where each member's bytes lie), refuses names that are not plain
 * file names (no directory part, no "..", no control characters), links,
 * devices and any member that reaches past the end of the file; the OVF
 * parser runs libxml2 without network access, without loading a DTD,
 * without entity substitution and refuses a document with a DOCTYPE at all,
 * on at most OVF_MAX_SIZE bytes.  Counts are bounded (members, disks, NICs).
 * Like the rest of the image library, these run inside corral-imgd, never
 * in corrald (serve.c answers the "appliance" and "sniff" requests).
 *
 * Results are JSON objects (the helper's answer format) whose values are
 * still only as trustworthy as the file: corrald checks every one again.
 * Errors: 0 or -errno with one sentence appended to err (-EINVAL: the file
 * is malformed or hostile, saying how; -EFBIG: over a limit).
 */
#ifndef CORRAL_IMAGE_APPLIANCE_H
#define CORRAL_IMAGE_APPLIANCE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "image/image.h"
#include "util/buf.h"

#define OVA_MAX_MEMBERS 64
#define OVA_NAME_MAX 100
#define OVF_MAX_SIZE (1u << 20)
#define OVF_MAX_MF_SIZE (64u << 10)
#define OVF_MAX_DISKS 16
#define OVF_MAX_NICS 4

/*
 * The members of the tar archive on dev, in order: *out gets
 * [{"name","offset","size"}] (offset of the data in dev, size in bytes).
 * Refused: a header with a bad checksum, a member type other than a regular
 * file (pax and GNU extension headers included: an OVA is plain ustar), a
 * name with '/', "..", a leading '.', control characters or over
 * OVA_NAME_MAX bytes, two members of one name, more than OVA_MAX_MEMBERS
 * members, data past the end of dev, and no end-of-archive marker.
 */
int ova_tar_index(struct img_dev *dev, json_t **out, struct buf *err);

/*
 * The OVF descriptor xml[0..len) as
 *   {"name","cpus","memory_mib","firmware" ("bios"|"efi"|null),"os" (text or null),
 *    "disks":[{"id","file" (href, or null for an empty disk),"file_size" (or null),
 *              "capacity" (bytes),"format" (URI),"controller" ("ide"|"sata"|"scsi"|"nvme"|"other"),
 *              "controller_model"}],
 *    "nics":[{"network" (or null),"model" (ResourceSubType, or null)}],
 *    "warnings":[sentences: hardware the descriptor asks for that corral does not make]}
 * disks in the order of the virtual system's disk items.  One VirtualSystem
 * only (a VirtualSystemCollection is refused).  name, cpus and memory are
 * required; values out of range (0 CPUs, memory units that are not bytes
 * times a power of 2 or 10) are refused.
 */
int ovf_parse(const char *xml, size_t len, json_t **out, struct buf *err);

/*
 * A manifest (.mf) text[0..len): lines "SHA256(file)= hex" or
 * "SHA1(file)= hex" (blank lines ignored) as {"file":{"alg":"sha256"|"sha1",
 * "digest": lower-case hex}}.  Other algorithms, malformed lines and a file
 * listed twice are refused.
 */
int ovf_mf_parse(const char *text, size_t len, json_t **out, struct buf *err);

/*
 * What the leading bytes data[0..len) of a file look like, for a disk
 * import that found no partition table or filesystem: "ova" (a tar whose
 * first member ends in .ovf), "tar", "ovf" (XML with an OVF Envelope), "xml",
 * "gzip", "xz", "bzip2", "zstd", "zip", "empty" (len 0), "zeros", "text"
 * (printable UTF-8 and whitespace), else "data".
 */
const char *img_sniff(const uint8_t *data, size_t len);

#endif
