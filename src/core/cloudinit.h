/*
 * cloudinit.h - the cloud-init part of a VM definition and the NoCloud
 * seed made from it (docs/cloud-init.md).
 *
 * A VM with "cloud_init" in its definition gets, at every start, a
 * read-only CD-ROM labelled "cidata" holding meta-data, user-data and
 * network-config (the NoCloud datasource of cloud-init, which Debian,
 * Ubuntu and Fedora cloud images read at boot).  This module owns the
 * definition's "cloud_init" object (parse, validate, serialise) and writes
 * the text of the three files; qemu/cidata.h turns them into an ISO image.
 *
 * JSON: "cloud_init": null | {"user": NAME, "password_hash": CRYPT,
 * "ssh_keys": [KEY...], "user_data": TEXT, "network_config": TEXT,
 * "hostname": NAME}, every member optional.  user_data and network_config
 * are the admin's and taken verbatim (only their size is checked);
 * user_data cannot be combined with user, password_hash or ssh_keys (those
 * only shape the cloud-config corral writes when there is no user_data).
 * Every value corral writes into YAML itself is refused if it holds a
 * control character and is written double-quoted, so no value can add a
 * key (cloudinit_yaml_quote).  The password is never here: only a crypt(3)
 * hash ("$y$..."), made by the CLI.
 *
 * The instance-id is "iid-" + the VM's uuid + "-" + 16 hex digits of the
 * SHA-256 of the three files' other contents: a clone (new uuid) or a
 * changed setting (new hash) is a new instance to cloud-init, which then
 * applies the configuration again (and makes new SSH host keys).
 *
 * Pure: no I/O.  Strings are owned by the structs; NULL-safe frees.
 */
#ifndef CORRAL_CORE_CLOUDINIT_H
#define CORRAL_CORE_CLOUDINIT_H

#include <jansson.h>

#include "util/buf.h"

#define CLOUDINIT_MAX_TEXT (64 * 1024)  /* user_data, network_config */
#define CLOUDINIT_MAX_KEYS 32
#define CLOUDINIT_MAX_KEY 8192
#define CLOUDINIT_MAX_USER 32
#define CLOUDINIT_MAX_HASH 512
#define CLOUDINIT_MAX_HOSTNAME 253

struct vm_def;

struct vm_cloudinit {
	char *user;            /* NULL: the image's default user */
	char *password_hash;   /* crypt(3) hash for user, NULL: none */
	char **ssh_keys;       /* authorized keys, one line each */
	int nkeys;
	char *user_data;       /* the admin's user-data, verbatim; NULL: corral writes a cloud-config */
	char *network_config;  /* the admin's network-config, verbatim; NULL: DHCP on every NIC */
	char *hostname;        /* NULL: from the VM's name */
};

/* Parse the "cloud_init" object (not null) into a new struct.  0, or
 * -EINVAL with one sentence naming the field in err. */
int cloudinit_parse(const json_t *j, struct vm_cloudinit **out, struct buf *err);
/* The "cloud_init" object (new reference). */
json_t *cloudinit_to_json(const struct vm_cloudinit *c);
void cloudinit_free(struct vm_cloudinit *c);

/* The seed's files, text (NULL network_config: none written). */
struct cloudinit_seed {
	char instance_id[64];
	char *meta_data;
	char *user_data;
	char *network_config;
};

/* Write the seed of definition d (d->cloudinit must be set).  0, or
 * -EINVAL + err (a hostname that cannot be made from the VM's name). */
int cloudinit_seed_make(const struct vm_def *d, struct cloudinit_seed *out, struct buf *err);
void cloudinit_seed_release(struct cloudinit_seed *s);

/* Append s (UTF-8) to b as a YAML double-quoted scalar.  -EINVAL (b
 * untouched) if s holds a control character (C0 with the newline, DEL, C1)
 * or a character YAML reads as a line break or refuses (U+2028, U+2029,
 * U+FEFF). */
int cloudinit_yaml_quote(struct buf *b, const char *s);

#endif
