/*
 * policy.h - backup policies: which VMs to back up, where, when, and how
 * many backups to keep.  Pure logic: parsed from JSON (API, store) or from a
 * VmBackup-style `key=value` file, serialised back to JSON, and matched
 * against a list of VMs.  See docs/backup-policies.md.
 *
 * Patterns (select and exclude): a shell glob on the VM name ("PROD*"), or
 * "tag:T" for VMs carrying tag T; a select pattern may end in ":N"
 * ("DEV-RH*:3"), which gives the VMs it selects keep-last N and no other keep
 * rule (VmBackup's per-VM backup count).  A VM matching any exclude pattern is
 * excluded; otherwise the FIRST select pattern it matches (in list order)
 * selects it.
 *
 * A struct policy owns all its strings; release with policy_release
 * (safe on a zeroed or released policy).  Parsers leave *out zeroed on error.
 */
#ifndef CORRAL_BACKUP_POLICY_H
#define CORRAL_BACKUP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "retention.h"
#include "util/buf.h"

#define POLICY_MAX_PATTERNS 256
#define POLICY_MAX_PATTERN_LEN 255
#define POLICY_MAX_REPO_LEN 4095
#define POLICY_MAX_TEXT (1024 * 1024)

struct policy_pattern {
	char *text;		/* as written: "DEV-RH*:3" */
	char *match;		/* glob, or the tag name when is_tag: "DEV-RH*" */
	bool is_tag;
	int keep_last;		/* the ":N" override, 0 = none */
};

struct policy {
	char *name;		/* str_name_invalid-valid */
	struct policy_pattern *select;	/* at least one */
	size_t nselect;
	struct policy_pattern *exclude;
	size_t nexclude;
	char *repo;		/* absolute path of a repository; NULL: the host's default */
	struct keep_opts keep;	/* default: last 4 (VmBackup's max_backups default) */
	char *schedule;		/* calendar event (calendar.h), NULL = on demand only */
	bool os_disk_only;	/* default false */
	int compression;	/* zstd level 1..19, default 3 */
	bool enabled;		/* default true */
};

/* A VM as the selection sees it (borrowed strings). */
struct policy_vm {
	const char *name;
	const char *const *tags;
	size_t ntags;
};

enum policy_verdict { POLICY_UNMATCHED, POLICY_SELECTED, POLICY_EXCLUDED };

struct policy_choice {
	enum policy_verdict verdict;
	const struct policy_pattern *by;	/* the deciding pattern (points into the policy), NULL if unmatched */
	struct keep_opts keep;			/* effective retention when selected */
};

/* From a JSON object (strict: unknown keys, wrong types, bad ranges are errors). 0 or -EINVAL + err. */
int policy_from_json(const json_t *j, struct policy *out, struct buf *err);

/*
 * From VmBackup-style text: `key=value` lines, '#' comments, keys name, select
 * (alias vm-export, repeatable), exclude (repeatable), repo, schedule,
 * max_backups (= keep_last), keep_last|hourly|daily|weekly|monthly|yearly,
 * os_disk_only, compression, enabled.  `name` names the policy when the text
 * has no name= line (may be NULL).  0 or -EINVAL + err naming the line.
 */
int policy_parse_text(const char *text, size_t len, const char *name, struct policy *out, struct buf *err);

/* The policy as JSON (new reference), accepted back by policy_from_json. */
json_t *policy_to_json(const struct policy *p);

void policy_release(struct policy *p);

/* Decide for each vms[i] into out[i]. */
void policy_select(const struct policy *p, const struct policy_vm *vms, size_t n, struct policy_choice *out);

/* One preview line: "PROD-db1: selected by PROD* (keep last 3)", "PROD-test: excluded by *-test". */
void policy_choice_describe(const struct policy_vm *vm, const struct policy_choice *c, struct buf *out);

#endif
