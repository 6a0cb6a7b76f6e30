/*
 * policy.c - backup policies (policy.h): one validator per field shared by
 * the JSON reader and the VmBackup-style text reader, so both accept exactly
 * the same values with the same messages; JSON writer; VM selection.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy.h"
#include "calendar.h"
#include "util/jsonutil.h"
#include "util/strutil.h"
#include "util/common.h"

#define KEEP_DEFAULT_LAST 4
#define COMPRESSION_DEFAULT 3

static const char *const keep_names[] = { "last", "hourly", "daily", "weekly", "monthly", "yearly", NULL };

static int *keep_field(struct keep_opts *k, size_t i)
{
	int *f[] = { &k->last, &k->hourly, &k->daily, &k->weekly, &k->monthly, &k->yearly };
	return f[i];
}

static void policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->keep.last = KEEP_DEFAULT_LAST;
	p->compression = COMPRESSION_DEFAULT;
	p->enabled = true;
}

static void pattern_release(struct policy_pattern *pat)
{
	free(pat->text);
	free(pat->match);
}

void policy_release(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nselect; i++)
		pattern_release(&p->select[i]);
	for (size_t i = 0; i < p->nexclude; i++)
		pattern_release(&p->exclude[i]);
	free(p->select);
	free(p->exclude);
	free(p->name);
	free(p->repo);
	free(p->schedule);
	memset(p, 0, sizeof(*p));
}

/* A decimal of at most 9 digits within min..max into *out.  0, or -EINVAL/-ERANGE. */
static int text_int(const char *v, int min, int max, int *out)
{
	if (!*v || strlen(v) > 9 || strspn(v, "0123456789") != strlen(v))
		return -EINVAL;
	int i = atoi(v);
	if (i < min || i > max)
		return -ERANGE;
	*out = i;
	return 0;
}

/* Characters of a VM-name glob: name characters plus * ? [ ] ! ^. */
static bool glob_char_ok(unsigned char c)
{
	return isalnum(c) || strchr("._-*?[]!^", c);
}

/* Validate and add one pattern to *arr.  `where` names it in errors ("select[2]", "line 4"). */
static int pattern_add(struct policy_pattern **arr, size_t *n, const char *s, bool is_select, const char *where,
		       struct buf *err)
{
	size_t len = strlen(s);
	int keep_last = 0;
	const char *body_end = s + len;

	if (*n >= POLICY_MAX_PATTERNS) {
		buf_printf(err, "%s: a policy takes at most %d %s patterns", where, POLICY_MAX_PATTERNS,
			   is_select ? "select" : "exclude");
		return -EINVAL;
	}
	if (len == 0 || len > POLICY_MAX_PATTERN_LEN || str_has_control(s)) {
		buf_printf(err, "%s: a pattern must be 1..%d printable characters", where, POLICY_MAX_PATTERN_LEN);
		return -EINVAL;
	}
	const char *colon = strrchr(s, ':');
	if (colon == s + 3 && strncmp(s, "tag:", 4) == 0)
		colon = NULL; /* "tag:2024" is the tag 2024, not a count */
	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		if (!is_select) {
			buf_printf(err, "%s: exclude pattern '%s' cannot carry a ':N' backup count", where, s);
			return -EINVAL;
		}
		if (text_int(colon + 1, 1, KEEP_MAX, &keep_last) < 0) {
			buf_printf(err, "%s: the backup count in '%s' must be between 1 and %d", where, s, KEEP_MAX);
			return -EINVAL;
		}
		body_end = colon;
	}
	__do_free char *body = xasprintf("%.*s", (int)(body_end - s), s);
	bool is_tag = strncmp(body, "tag:", 4) == 0;
	if (is_tag) {
		const char *bad = str_name_invalid(body + 4);
		if (bad) {
			buf_printf(err, "%s: tag in '%s': %s", where, s, bad);
			return -EINVAL;
		}
	} else {
		bool ok = body[0] != '\0';
		for (const char *c = body; *c; c++)
			ok = ok && glob_char_ok((unsigned char)*c);
		if (!ok) {
			buf_printf(err, "%s: '%s' is not a VM name pattern (letters, digits, '.', '_', '-' and the glob characters * ? [ ], or tag:NAME)",
				   where, s);
			return -EINVAL;
		}
	}
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[*n] = (struct policy_pattern){
		.text = xstrdup(s),
		.match = xstrdup(is_tag ? body + 4 : body),
		.is_tag = is_tag,
		.keep_last = keep_last,
	};
	(*n)++;
	return 0;
}

static int name_set(struct policy *p, const char *s, const char *where, struct buf *err)
{
	const char *bad = str_name_invalid(s);
	if (bad) {
		buf_printf(err, "%s: policy name: %s", where, bad);
		return -EINVAL;
	}
	free(p->name);
	p->name = xstrdup(s);
	return 0;
}

static int repo_set(struct policy *p, const char *s, const char *where, struct buf *err)
{
	size_t len = strlen(s);
	if (len == 0 || len > POLICY_MAX_REPO_LEN || str_has_control(s)) {
		buf_printf(err, "%s: repo must be 1..%d printable characters", where, POLICY_MAX_REPO_LEN);
		return -EINVAL;
	}
	if (s[0] != '/' && str_name_invalid(s)) {
		buf_printf(err, "%s: repo '%s' is neither an absolute path nor a repository name", where, s);
		return -EINVAL;
	}
	free(p->repo);
	p->repo = xstrdup(s);
	return 0;
}

static int schedule_set(struct policy *p, const char *s, const char *where, struct buf *err)
{
	struct calendar cal;
	__do_buf struct buf why = BUF_INIT;
	if (calendar_parse(s, &cal, &why) < 0) {
		buf_printf(err, "%s: schedule: %s", where, why.s);
		return -EINVAL;
	}
	free(p->schedule);
	p->schedule = xstrdup(s);
	return 0;
}

/* Checks common to both readers once everything is read. */
static int policy_complete(const struct policy *p, const char *what, struct buf *err)
{
	if (!p->name) {
		buf_printf(err, "%s: the policy has no name", what);
		return -EINVAL;
	}
	if (p->nselect == 0) {
		buf_printf(err, "%s: policy '%s' selects no VMs (give at least one select pattern, e.g. \"*\")", what,
			   p->name);
		return -EINVAL;
	}
	return 0;
}

static int json_patterns(const json_t *j, const char *key, bool is_select, struct policy *p, struct buf *err)
{
	json_t *arr = json_object_get(j, key);
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > POLICY_MAX_PATTERNS) {
		buf_printf(err, "field '%s' must be a list of at most %d patterns", key, POLICY_MAX_PATTERNS);
		return -EINVAL;
	}
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		char where[32];
		snprintf(where, sizeof(where), "%s[%zu]", key, i);
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
			buf_printf(err, "%s: a pattern must be a string", where);
			return -EINVAL;
		}
		if (pattern_add(is_select ? &p->select : &p->exclude, is_select ? &p->nselect : &p->nexclude,
				json_string_value(v), is_select, where, err) < 0)
			return -EINVAL;
	}
	return 0;
}

static int json_keep(const json_t *j, struct keep_opts *k, struct buf *err)
{
	json_t *o = json_object_get(j, "keep");
	if (!o)
		return 0;
	if (json_check_keys(o, "field 'keep'", keep_names, err) < 0)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; keep_names[i]; i++) {
		int64_t v;
		__do_buf struct buf why = BUF_INIT;
		int r = json_get_int(o, keep_names[i], 0, KEEP_MAX, &v, &why);
		if (r < 0) {
			buf_printf(err, "keep.%s: %s", keep_names[i], why.s);
			return -EINVAL;
		}
		if (r > 0)
			*keep_field(k, i) = (int)v;
	}
	return 0;
}

static int policy_from_json_fields(const json_t *j, struct policy *p, struct buf *err)
{
	static const char *const keys[] = { "name", "select", "exclude", "repo", "keep", "schedule",
					    "os_disk_only", "compression", "enabled", NULL };
	const char *s;
	int64_t v;
	int r;

	if (json_check_keys(j, "the policy", keys, err) < 0)
		return -EINVAL;
	if ((r = json_get_str(j, "name", &s, err)) < 0 || (r > 0 && name_set(p, s, "field 'name'", err) < 0))
		return -EINVAL;
	if (json_patterns(j, "select", true, p, err) < 0 || json_patterns(j, "exclude", false, p, err) < 0)
		return -EINVAL;
	if ((r = json_get_str(j, "repo", &s, err)) < 0 || (r > 0 && repo_set(p, s, "field 'repo'", err) < 0))
		return -EINVAL;
	if (json_keep(j, &p->keep, err) < 0)
		return -EINVAL;
	json_t *sched = json_object_get(j, "schedule");
	if (sched && !json_is_null(sched)) {
		if (json_get_str(j, "schedule", &s, err) < 0 || schedule_set(p, s, "field 'schedule'", err) < 0)
			return -EINVAL;
	}
	if (json_get_bool(j, "os_disk_only", &p->os_disk_only, err) < 0 ||
	    json_get_bool(j, "enabled", &p->enabled, err) < 0)
		return -EINVAL;
	if ((r = json_get_int(j, "compression", 1, 19, &v, err)) < 0)
		return -EINVAL;
	if (r > 0)
		p->compression = (int)v;
	return policy_complete(p, "policy", err);
}

int policy_from_json(const json_t *j, struct policy *out, struct buf *err)
{
	__do_buf struct buf why = BUF_INIT;
	struct policy p;

	policy_defaults(&p);
	if (policy_from_json_fields(j, &p, &why) < 0) {
		buf_printf(err, "invalid backup policy%s%s: %s", p.name ? " " : "", p.name ? p.name : "", why.s);
		policy_release(&p);
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	*out = p;
	return 0;
}

static int text_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -EINVAL;
}

/* Apply one `key=value` line of the text format. */
static int text_apply(struct policy *p, const char *key, const char *val, const char *where, bool *keep_seen,
		      struct buf *err)
{
	if (strcmp(key, "select") == 0 || strcmp(key, "vm-export") == 0)
		return pattern_add(&p->select, &p->nselect, val, true, where, err);
	if (strcmp(key, "exclude") == 0)
		return pattern_add(&p->exclude, &p->nexclude, val, false, where, err);
	if (strcmp(key, "name") == 0)
		return name_set(p, val, where, err);
	if (strcmp(key, "repo") == 0)
		return repo_set(p, val, where, err);
	if (strcmp(key, "schedule") == 0)
		return schedule_set(p, val, where, err);
	if (strcmp(key, "os_disk_only") == 0 || strcmp(key, "enabled") == 0) {
		if (text_bool(val, strcmp(key, "enabled") == 0 ? &p->enabled : &p->os_disk_only) == 0)
			return 0;
		buf_printf(err, "%s: %s must be true or false", where, key);
		return -EINVAL;
	}
	if (strcmp(key, "compression") == 0) {
		if (text_int(val, 1, 19, &p->compression) == 0)
			return 0;
		buf_printf(err, "%s: compression must be a zstd level between 1 and 19", where);
		return -EINVAL;
	}
	const char *k = strcmp(key, "max_backups") == 0 ? "last" : strncmp(key, "keep_", 5) == 0 ? key + 5 : NULL;
	for (size_t i = 0; k && keep_names[i]; i++) {
		if (strcmp(k, keep_names[i]) != 0)
			continue;
		if (!*keep_seen)
			memset(&p->keep, 0, sizeof(p->keep));
		*keep_seen = true;
		if (text_int(val, 0, KEEP_MAX, keep_field(&p->keep, i)) == 0)
			return 0;
		buf_printf(err, "%s: %s must be a whole number between 0 and %d", where, key, KEEP_MAX);
		return -EINVAL;
	}
	buf_printf(err, "%s: unknown key '%.64s'", where, key);
	return -EINVAL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int policy_parse_lines(const char *text, size_t len, struct policy *p, struct buf *err)
{
	bool keep_seen = false;
	unsigned lineno = 0;
	const char *pos = text, *end = text + len;

	if (len > POLICY_MAX_TEXT) {
		buf_printf(err, "the file is larger than %d bytes", POLICY_MAX_TEXT);
		return -EINVAL;
	}
	if (memchr(text, '\0', len)) {
		buf_adds(err, "the file contains a NUL byte");
		return -EINVAL;
	}
	while (pos < end) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t llen = (size_t)((nl ? nl : end) - pos);
		__do_free char *line = xmalloc(llen + 1);
		char where[32];

		memcpy(line, pos, llen);
		line[llen] = '\0';
		pos += llen + 1;
		snprintf(where, sizeof(where), "line %u", ++lineno);
		char *l = trim(line);
		if (*l == '\0' || *l == '#')
			continue;
		char *eq = strchr(l, '=');
		if (!eq) {
			buf_printf(err, "%s: expected key=value", where);
			return -EINVAL;
		}
		*eq = '\0';
		char *key = trim(l), *val = trim(eq + 1);
		if (str_has_control(key) || str_has_control(val)) {
			buf_printf(err, "%s: contains control characters", where);
			return -EINVAL;
		}
		__do_json json_t *utf8 = json_string(val); /* NULL unless valid UTF-8, which JSON needs */
		if (!utf8) {
			buf_printf(err, "%s: the value is not valid UTF-8", where);
			return -EINVAL;
		}
		if (text_apply(p, key, val, where, &keep_seen, err) < 0)
			return -EINVAL;
	}
	return 0;
}

int policy_parse_text(const char *text, size_t len, const char *name, struct policy *out, struct buf *err)
{
	__do_buf struct buf why = BUF_INIT;
	struct policy p;

	policy_defaults(&p);
	if ((name && name_set(&p, name, "file name", &why) < 0) || policy_parse_lines(text, len, &p, &why) < 0 ||
	    policy_complete(&p, "end of file", &why) < 0) {
		buf_printf(err, "invalid backup policy file%s%s: %s", name ? " for " : "", name ? name : "", why.s);
		policy_release(&p);
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	*out = p;
	return 0;
}

static json_t *patterns_to_json(const struct policy_pattern *pats, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(pats[i].text));
	return a;
}

json_t *policy_to_json(const struct policy *p)
{
	json_t *j = json_object(), *keep = json_object();
	struct keep_opts k = p->keep;

	for (size_t i = 0; keep_names[i]; i++)
		json_object_set_new(keep, keep_names[i], json_integer(*keep_field(&k, i)));
	json_object_set_new(j, "name", json_string(p->name));
	json_object_set_new(j, "select", patterns_to_json(p->select, p->nselect));
	json_object_set_new(j, "exclude", patterns_to_json(p->exclude, p->nexclude));
	if (p->repo)
		json_object_set_new(j, "repo", json_string(p->repo));
	json_object_set_new(j, "keep", keep);
	json_object_set_new(j, "schedule", p->schedule ? json_string(p->schedule) : json_null());
	json_object_set_new(j, "os_disk_only", json_boolean(p->os_disk_only));
	json_object_set_new(j, "compression", json_integer(p->compression));
	json_object_set_new(j, "enabled", json_boolean(p->enabled));
	return j;
}

static bool pattern_matches(const struct policy_pattern *pat, const struct policy_vm *vm)
{
	if (!pat->is_tag)
		return str_glob_match(pat->match, vm->name ? vm->name : "");
	for (size_t i = 0; i < vm->ntags; i++)
		if (vm->tags[i] && strcmp(vm->tags[i], pat->match) == 0)
			return true;
	return false;
}

void policy_select(const struct policy *p, const struct policy_vm *vms, size_t n, struct policy_choice *out)
{
	for (size_t v = 0; v < n; v++) {
		struct policy_choice c = { .verdict = POLICY_UNMATCHED };
		for (size_t i = 0; i < p->nexclude && !c.by; i++)
			if (pattern_matches(&p->exclude[i], &vms[v]))
				c = (struct policy_choice){ .verdict = POLICY_EXCLUDED, .by = &p->exclude[i] };
		for (size_t i = 0; i < p->nselect && !c.by; i++) {
			if (!pattern_matches(&p->select[i], &vms[v]))
				continue;
			c = (struct policy_choice){ .verdict = POLICY_SELECTED, .by = &p->select[i], .keep = p->keep };
			if (p->select[i].keep_last)
				c.keep = (struct keep_opts){ .last = p->select[i].keep_last };
		}
		out[v] = c;
	}
}

void policy_choice_describe(const struct policy_vm *vm, const struct policy_choice *c, struct buf *out)
{
	const char *name = vm->name ? vm->name : "";
	switch (c->verdict) {
	case POLICY_SELECTED:
		buf_printf(out, "%s: selected by %s (keep ", name, c->by->text);
		keep_opts_describe(&c->keep, out);
		buf_addch(out, ')');
		break;
	case POLICY_EXCLUDED:
		buf_printf(out, "%s: excluded by %s", name, c->by->text);
		break;
	case POLICY_UNMATCHED:
		buf_printf(out, "%s: not selected (matches no select pattern)", name);
		break;
	}
}
