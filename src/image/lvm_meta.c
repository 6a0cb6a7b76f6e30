/*
 * lvm_meta.c - a small bounded parser for LVM2's text metadata format (the
 * volume group description the PVs' metadata areas carry; lvm.c finds it).
 *
 * The format is nested sections `name { ... }` holding `key = value` lines,
 * where a value is an integer, a "string" (with \" and \\ escapes) or a
 * [list, of, values]; `#` starts a comment.  The text comes from a guest
 * disk, so it is untrusted: at most LVM_META_MAX bytes, LVM_MAX_NODES nodes,
 * sections nested at most LVM_MAX_DEPTH deep, strings and names at most 4096
 * bytes; anything else is an error naming the line.  The result is a plain
 * tree that lvm.c reads with lvm_node_find / lvm_node_int / lvm_node_str.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"
#include "util/common.h"

#define LVM_MAX_NODES 200000
#define LVM_MAX_DEPTH 16
#define LVM_MAX_STR 4096

struct lvm_parser {
	const char *s;
	size_t len, pos;
	unsigned line;
	size_t nodes;
	struct buf *err;
};

static struct lvm_node *node_new(struct lvm_parser *p, enum lvm_kind kind)
{
	if (++p->nodes > LVM_MAX_NODES) {
		buf_printf(p->err, "LVM metadata has more than %d entries", LVM_MAX_NODES);
		return NULL;
	}
	struct lvm_node *n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	return n;
}

void lvm_node_free(struct lvm_node *n)
{
	while (n) {
		struct lvm_node *next = n->next;
		lvm_node_free(n->child);
		free(n->key);
		free(n->str);
		free(n);
		n = next;
	}
}

static void skip_space(struct lvm_parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];
		if (c == '\n') {
			p->line++;
			p->pos++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			p->pos++;
		} else if (c == '#') {
			while (p->pos < p->len && p->s[p->pos] != '\n')
				p->pos++;
		} else {
			break;
		}
	}
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '+' || c == '-';
}

static int syntax(struct lvm_parser *p, const char *what)
{
	buf_printf(p->err, "LVM metadata line %u: %s", p->line, what);
	return -EIO;
}

static int parse_name(struct lvm_parser *p, char **out)
{
	size_t start = p->pos;

	while (p->pos < p->len && is_name_char(p->s[p->pos]))
		p->pos++;
	if (p->pos == start)
		return syntax(p, "a name was expected");
	if (p->pos - start > LVM_MAX_STR)
		return syntax(p, "a name is too long");
	*out = xstrndup(p->s + start, p->pos - start);
	return 0;
}

static int parse_scalar(struct lvm_parser *p, struct lvm_node *n)
{
	if (p->pos >= p->len)
		return syntax(p, "a value was expected");
	if (p->s[p->pos] == '"') {
		__do_buf struct buf b = BUF_INIT;
		p->pos++;
		for (;;) {
			if (p->pos >= p->len)
				return syntax(p, "a string is not terminated");
			char c = p->s[p->pos++];
			if (c == '"')
				break;
			if (c == '\\') {
				if (p->pos >= p->len)
					return syntax(p, "a string is not terminated");
				c = p->s[p->pos++];
			}
			if (c == '\n')
				p->line++;
			if (c == 0)
				return syntax(p, "a string holds a NUL byte");
			if (b.len >= LVM_MAX_STR)
				return syntax(p, "a string is too long");
			buf_addch(&b, c);
		}
		n->kind = LVM_STR;
		n->str = buf_detach(&b);
		if (!n->str)
			n->str = xstrdup("");
		return 0;
	}
	bool neg = p->s[p->pos] == '-';
	size_t start = p->pos + neg;
	uint64_t v = 0;
	p->pos = start;
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		unsigned d = (unsigned)(p->s[p->pos] - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return syntax(p, "a number is too large");
		v = v * 10 + d;
		p->pos++;
	}
	if (p->pos == start)
		return syntax(p, "a value must be a number, a string or a list");
	/* lvm writes a few floats (e.g. in old caches): keep the integer part */
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	n->kind = LVM_INT;
	n->num = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static int parse_value(struct lvm_parser *p, struct lvm_node *n)
{
	if (p->pos < p->len && p->s[p->pos] == '[') {
		struct lvm_node **tail = &n->child;
		n->kind = LVM_ARRAY;
		p->pos++;
		for (;;) {
			skip_space(p);
			if (p->pos >= p->len)
				return syntax(p, "a list is not terminated");
			if (p->s[p->pos] == ']') {
				p->pos++;
				return 0;
			}
			struct lvm_node *e = node_new(p, LVM_INT);
			if (!e)
				return -EIO;
			*tail = e;
			tail = &e->next;
			int rc = parse_scalar(p, e);
			if (rc < 0)
				return rc;
			skip_space(p);
			if (p->pos < p->len && p->s[p->pos] == ',')
				p->pos++;
			else if (p->pos < p->len && p->s[p->pos] != ']')
				return syntax(p, "a list needs commas between its values");
		}
	}
	return parse_scalar(p, n);
}

/* Entries up to '}' (depth > 0) or the end of the text (depth 0). */
static int parse_body(struct lvm_parser *p, struct lvm_node **tail, int depth)
{
	if (depth > LVM_MAX_DEPTH)
		return syntax(p, "sections are nested too deep");
	for (;;) {
		skip_space(p);
		if (p->pos >= p->len)
			return depth ? syntax(p, "a section is not closed") : 0;
		if (p->s[p->pos] == '}') {
			if (!depth)
				return syntax(p, "a '}' closes no section");
			p->pos++;
			return 0;
		}
		struct lvm_node *n = node_new(p, LVM_SECTION);
		if (!n)
			return -EIO;
		*tail = n;
		tail = &n->next;
		int rc = parse_name(p, &n->key);
		if (rc < 0)
			return rc;
		skip_space(p);
		if (p->pos < p->len && p->s[p->pos] == '{') {
			p->pos++;
			rc = parse_body(p, &n->child, depth + 1);
		} else if (p->pos < p->len && p->s[p->pos] == '=') {
			p->pos++;
			skip_space(p);
			rc = parse_value(p, n);
		} else {
			rc = syntax(p, "'=' or '{' was expected after a name");
		}
		if (rc < 0)
			return rc;
	}
}

int lvm_meta_parse(const char *text, size_t len, struct lvm_node **out, struct buf *err)
{
	struct lvm_parser p = { .s = text, .len = len, .line = 1, .err = err };

	*out = NULL;
	if (len > LVM_META_MAX) {
		buf_printf(err, "LVM metadata is %zu bytes, more than the %u allowed", len, LVM_META_MAX);
		return -EIO;
	}
	int rc = parse_body(&p, out, 0);
	if (rc < 0) {
		lvm_node_free(*out);
		*out = NULL;
	}
	return rc;
}

const struct lvm_node *lvm_node_find(const struct lvm_node *list, const char *key)
{
	for (; list; list = list->next)
		if (list->key && strcmp(list->key, key) == 0)
			return list;
	return NULL;
}

bool lvm_node_int(const struct lvm_node *list, const char *key, int64_t *v)
{
	const struct lvm_node *n = lvm_node_find(list, key);

	if (!n || n->kind != LVM_INT)
		return false;
	*v = n->num;
	return true;
}

const char *lvm_node_str(const struct lvm_node *list, const char *key)
{
	const struct lvm_node *n = lvm_node_find(list, key);

	return n && n->kind == LVM_STR ? n->str : NULL;
}

bool lvm_node_has_flag(const struct lvm_node *list, const char *key, const char *flag)
{
	const struct lvm_node *n = lvm_node_find(list, key);

	if (!n || n->kind != LVM_ARRAY)
		return false;
	for (const struct lvm_node *e = n->child; e; e = e->next)
		if (e->kind == LVM_STR && strcmp(e->str, flag) == 0)
			return true;
	return false;
}
