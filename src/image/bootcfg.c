/*
 * bootcfg.c - find the entry a guest's boot loader would boot (bootcfg.h):
 * a small GRUB 2 script interpreter, BLS entries and legacy GRUB menu.lst.
 *
 * GRUB 2 is handled by running grub.cfg the way GRUB's normal mode does, on
 * the tokens of bootcfg_lex.c: commands run in order with variables, tests
 * and if/elif/else, so grub-mkconfig's header (load_env, next_entry over
 * saved_entry) decides `default` exactly as it does at boot.  Menu entries
 * are recorded with their body; bodies run only after the whole script, with
 * the final variables, like GRUB runs the chosen entry.  Submenus form a tree
 * that `default` ("N", "title", "id", "a>b") is resolved against; entries are
 * then listed flat in menu order.  Loops and functions are parsed but never
 * run, so no input can make the interpreter loop; nesting, `source` depth,
 * file size, entry count, value length and total work are all bounded.
 *
 * BLS entries (blscfg, or a bare /boot/loader/entries) are sorted like
 * GRUB's blscfg: newest `version` first by an rpmvercmp() comparison, ties
 * by file name, entries without a version last.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootcfg.h"
#include "bootcfg_lex.h"
#include "util/common.h"

#define BC_MAX_FILE (4u << 20)
#define BC_MAX_DEPTH 32
#define BC_MAX_SOURCE 8
#define BC_MAX_ENTRIES 1000
#define BC_MAX_VARS 1024
#define BC_MAX_VALUE (64u << 10)
#define BC_MAX_STEPS 2000000L
#define BC_MAX_FIELDS 4096	       /* arguments of one command after expansion */
#define BC_MAX_ARGBYTES (1u << 20) /* their total size */

struct var {
	char *name;
	char *value; /* NULL: unset (in the entry overlay) */
	bool exported;
};

struct vars {
	struct var *v;
	size_t n;
};

struct menu;
struct item {
	char *title;
	char *id;
	long entry;	  /* flat index, or -1 for a submenu */
	struct menu *sub; /* submenu items */
};

struct menu {
	struct item *items;
	size_t n;
};

enum pend_kind { PEND_NONE, PEND_SCRIPT, PEND_BLS };

/* What is still to run for a flat entry once the script is done. */
struct pending {
	enum pend_kind kind;
	struct bc_script *s; /* PEND_SCRIPT: body starts at s->toks[start] */
	size_t start;
	char *linux_path; /* PEND_BLS */
	char *options;
	int options_line;
	char **initrd_lines;
	size_t n_initrd_lines;
};

struct ctx {
	const struct bootcfg_io *io;
	struct buf *err;
	struct vars vars;
	struct vars overlay; /* writes while an entry body runs */
	bool in_entry;
	struct boot_entry *cur;
	struct bc_script *scripts;
	struct menu top;
	struct menu *menu; /* where new entries go */
	char *tprefix;	   /* "Sub>" while inside a submenu */
	char *iprefix;	   /* "subid>", NULL when a level has no id */
	struct boot_entry *entries;
	struct pending *pend;
	size_t n, alloc, nitems;
	int source_depth;
	long steps;
	int status;
	bool stop; /* configfile replaced the menu */
	bool bls_default; /* direct BLS: default from saved_entry by id */
};

struct parser {
	struct ctx *c;
	struct bc_script *s;
	size_t pos;
	int depth;
};

enum { TERM_EOF = 1, TERM_BRACE = 2, TERM_THEN = 4, TERM_ELSE = 8, TERM_FI = 16, TERM_DO = 32, TERM_DONE = 64 };

static int parse_list(struct parser *p, bool active, int terms, int *found);
static int script_run_file(struct ctx *c, const char *path, int line_of, const char *from);

static int ctx_fail(struct ctx *c, const char *path, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int ctx_fail(struct ctx *c, const char *path, int line, const char *fmt, ...)
{
	va_list ap;
	buf_printf(c->err, "%s:%d: ", path, line);
	va_start(ap, fmt);
	buf_vprintf(c->err, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- variables ---- */

static struct var *vars_find(struct vars *vs, const char *name)
{
	for (size_t i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].name, name) == 0)
			return &vs->v[i];
	return NULL;
}

static void vars_release(struct vars *vs)
{
	for (size_t i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		free(vs->v[i].value);
	}
	free(vs->v);
	vs->v = NULL;
	vs->n = 0;
}

static const char *var_get(struct ctx *c, const char *name)
{
	struct var *v = c->in_entry ? vars_find(&c->overlay, name) : NULL;
	if (v)
		return v->value;
	v = vars_find(&c->vars, name);
	return v ? v->value : NULL;
}

/* Set (value NULL: unset) a variable; -E2BIG past BC_MAX_VARS. */
static int var_set(struct ctx *c, const char *name, const char *value)
{
	struct vars *vs = c->in_entry ? &c->overlay : &c->vars;
	struct var *v = vars_find(vs, name);
	if (!v) {
		if (!value && !c->in_entry)
			return 0;
		if (vs->n >= BC_MAX_VARS)
			return -E2BIG;
		vs->v = xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
		v = &vs->v[vs->n++];
		*v = (struct var){ .name = xstrdup(name) };
	}
	free(v->value);
	v->value = value ? xstrdup(value) : NULL;
	if (!value && !c->in_entry) {
		free(v->name);
		*v = vs->v[--vs->n];
	}
	return 0;
}

static bool name_char(char ch, bool first)
{
	return ch == '_' || isalpha((unsigned char)ch) || (!first && isdigit((unsigned char)ch));
}

/* ---- word expansion ---- */

struct fields {
	char **v;
	size_t n, alloc, bytes;
};

static void fields_release(struct fields *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

/* Move b into a new field; -E2BIG past BC_MAX_FIELDS or BC_MAX_ARGBYTES. */
static int fields_push(struct fields *f, struct buf *b)
{
	if (f->n >= BC_MAX_FIELDS || f->bytes + b->len > BC_MAX_ARGBYTES)
		return -E2BIG;
	if (f->n == f->alloc) {
		f->alloc = f->alloc ? 2 * f->alloc : 8;
		f->v = xrealloc(f->v, f->alloc * sizeof(*f->v));
	}
	f->bytes += b->len + 1;
	f->v[f->n++] = xstrdup(b->s);
	buf_reset(b);
	return 0;
}

/* Value of the variable whose name starts at *pp (just after '$'); NULL
 * name means a lone '$'.  Advances *pp. */
static const char *expand_var(struct ctx *c, const char **pp, bool *lone, char *status_buf, size_t sbl)
{
	const char *p = *pp;
	char name[256];
	size_t n = 0;

	*lone = false;
	if (*p == '{') {
		const char *end = strchr(p, '}');
		if (!end) {
			*lone = true;
			return NULL;
		}
		n = (size_t)(end - p - 1);
		snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), p + 1);
		*pp = end + 1;
	} else if (*p == '?' || *p == '#' || *p == '*' || *p == '@') {
		name[0] = *p;
		name[1] = '\0';
		*pp = p + 1;
	} else if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)p[n]))
			n++;
		*pp = p + n;
		return NULL;
	} else if (name_char(*p, true)) {
		while (name_char(p[n], false))
			n++;
		snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), p);
		*pp = p + n;
	} else {
		*lone = true;
		return NULL;
	}
	if (strcmp(name, "?") == 0) {
		snprintf(status_buf, sbl, "%d", c->status);
		return status_buf;
	}
	return var_get(c, name);
}

/* Expand one raw word into fields: quotes removed, variables substituted,
 * unquoted variable values split on blanks when split is set. */
static int expand_word(struct ctx *c, const char *raw, bool split, struct fields *out)
{
	struct buf cur = BUF_INIT;
	bool have = false;
	const char *p = raw;
	char sbuf[16];
	int r = 0;

	while (*p) {
		if (*p == '\\') {
			if (p[1])
				buf_addch(&cur, p[1]);
			p += p[1] ? 2 : 1;
			have = true;
		} else if (*p == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end)
				end = p + strlen(p);
			buf_add(&cur, p + 1, (size_t)(end - p - 1));
			p = *end ? end + 1 : end;
			have = true;
		} else if (*p == '"') {
			p++;
			have = true;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1] == '\n') {
					p += 2;
				} else if (*p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$')) {
					buf_addch(&cur, p[1]);
					p += 2;
				} else if (*p == '$') {
					bool lone;
					p++;
					const char *v = expand_var(c, &p, &lone, sbuf, sizeof(sbuf));
					if (lone)
						buf_addch(&cur, '$');
					else if (v)
						buf_adds(&cur, v);
				} else {
					buf_addch(&cur, *p++);
				}
				if (cur.len > BC_MAX_VALUE)
					break;
			}
			if (*p)
				p++;
		} else if (*p == '$') {
			bool lone;
			p++;
			const char *v = expand_var(c, &p, &lone, sbuf, sizeof(sbuf));
			if (lone) {
				buf_addch(&cur, '$');
				have = true;
			}
			for (; v && *v && cur.len <= BC_MAX_VALUE; v++) {
				if (split && (*v == ' ' || *v == '\t' || *v == '\n')) {
					if (have && (r = fields_push(out, &cur)) < 0)
						break;
					have = false;
				} else {
					buf_addch(&cur, *v);
					have = true;
				}
			}
		} else {
			buf_addch(&cur, *p++);
			have = true;
		}
		if (r == 0 && cur.len > BC_MAX_VALUE)
			r = -E2BIG;
		if (r < 0)
			break;
	}
	if (!r && have)
		r = fields_push(out, &cur);
	buf_release(&cur);
	return r;
}

/* ---- menu and entries ---- */

static void menu_release(struct menu *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->items[i].title);
		free(m->items[i].id);
		if (m->items[i].sub) {
			menu_release(m->items[i].sub);
			free(m->items[i].sub);
		}
	}
	free(m->items);
	m->items = NULL;
	m->n = 0;
}

static void pending_release(struct pending *pd)
{
	free(pd->linux_path);
	free(pd->options);
	for (size_t i = 0; i < pd->n_initrd_lines; i++)
		free(pd->initrd_lines[i]);
	free(pd->initrd_lines);
}

static void entry_release(struct boot_entry *e)
{
	free(e->title);
	free(e->id);
	free(e->kernel);
	for (size_t i = 0; i < e->n_initrds; i++)
		free(e->initrds[i]);
	free(e->initrds);
	free(e->cmdline);
	free(e->origin);
	memset(e, 0, sizeof(*e));
}

/* Add a menu item to the current menu; for an entry also a flat entry,
 * returned in *pend.  -E2BIG past BC_MAX_ENTRIES. */
static int menu_add(struct ctx *c, const char *title, const char *id, bool submenu, char *origin,
		    struct pending **pend, struct item **item)
{
	if (c->nitems >= BC_MAX_ENTRIES) {
		free(origin);
		return -E2BIG;
	}
	c->nitems++;
	struct menu *m = c->menu;
	m->items = xrealloc(m->items, (m->n + 1) * sizeof(*m->items));
	struct item *it = &m->items[m->n++];
	*it = (struct item){ .title = xstrdup(title), .id = id ? xstrdup(id) : NULL, .entry = -1 };
	if (item)
		*item = it;
	if (submenu) {
		it->sub = xcalloc(1, sizeof(*it->sub));
		free(origin);
		return 0;
	}
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? 2 * c->alloc : 16;
		c->entries = xrealloc(c->entries, c->alloc * sizeof(*c->entries));
		c->pend = xrealloc(c->pend, c->alloc * sizeof(*c->pend));
	}
	it->entry = (long)c->n;
	struct boot_entry *e = &c->entries[c->n];
	memset(e, 0, sizeof(*e));
	e->title = xasprintf("%s%s", c->tprefix ? c->tprefix : "", title);
	if (id && (!c->tprefix || c->iprefix))
		e->id = xasprintf("%s%s", c->iprefix ? c->iprefix : "", id);
	e->origin = origin;
	*pend = &c->pend[c->n];
	memset(*pend, 0, sizeof(**pend));
	c->n++;
	return 0;
}

/* ---- file access ---- */

/* "(hd0,1)/grub/x" -> "/grub/x"; relative paths become absolute. */
static char *fs_path(const char *path)
{
	if (path[0] == '(') {
		const char *end = strchr(path, ')');
		path = end ? end + 1 : path + strlen(path);
	}
	return path[0] == '/' ? xstrdup(path) : xasprintf("/%s", path);
}

static int io_read(const struct bootcfg_io *io, const char *path, struct buf *out)
{
	if (!io || !io->read)
		return -ENOENT;
	__do_free char *p = fs_path(path);
	buf_reset(out);
	int r = io->read(io->arg, p, out);
	if (r == 0 && out->len > BC_MAX_FILE)
		r = -EFBIG;
	return r;
}

static void note_name(const char *name, void *arg)
{
	(void)name;
	(*(int *)arg)++;
}

/* ---- grubenv ---- */

/* Set the variables of a grubenv block (only those in `only`, if any). */
static int grubenv_apply(struct ctx *c, const char *text, size_t len, char **only, size_t nonly)
{
	static const char magic[] = "# GRUB Environment Block\n";
	size_t i = strlen(magic);

	if (len < i || memcmp(text, magic, i) != 0)
		return -EINVAL;
	while (i < len) {
		if (text[i] == '#' || text[i] == '\n') {
			while (i < len && text[i] != '\n')
				i++;
			i++;
			continue;
		}
		size_t ns = i;
		while (i < len && text[i] != '=' && text[i] != '\n')
			i++;
		if (i >= len || text[i] != '=') {
			i++;
			continue;
		}
		__do_free char *name = strndup(text + ns, i - ns);
		struct buf val = BUF_INIT;
		for (i++; i < len && text[i] != '\n'; i++) {
			if (text[i] == '\\' && i + 1 < len)
				i++;
			buf_addch(&val, text[i]);
		}
		i++;
		bool want = nonly == 0;
		for (size_t k = 0; k < nonly && !want; k++)
			want = strcmp(only[k], name) == 0;
		int r = want ? var_set(c, name, val.s) : 0;
		buf_release(&val);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- [ / test ---- */

static bool file_test(struct ctx *c, const char *op, const char *path)
{
	struct buf b = BUF_INIT;
	int r = io_read(c->io, path, &b);
	size_t len = b.len;
	buf_release(&b);
	if (strcmp(op, "-s") == 0)
		return r == 0 && len > 0;
	if (strcmp(op, "-f") == 0)
		return r == 0;
	int count = 0;
	bool dir = c->io && c->io->list && c->io->list(c->io->arg, path, note_name, &count) == 0;
	return dir || (strcmp(op, "-e") == 0 && r == 0);
}

static bool is_unary(const char *s)
{
	static const char *const ops[] = { "-n", "-z", "-f", "-e", "-d", "-s" };
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (strcmp(s, ops[i]) == 0)
			return true;
	return false;
}

static bool is_binary(const char *s)
{
	static const char *const ops[] = { "=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge" };
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (strcmp(s, ops[i]) == 0)
			return true;
	return false;
}

static bool test_binary(const char *a, const char *op, const char *b)
{
	if (strcmp(op, "=") == 0 || strcmp(op, "==") == 0)
		return strcmp(a, b) == 0;
	if (strcmp(op, "!=") == 0)
		return strcmp(a, b) != 0;
	if (strcmp(op, "<") == 0)
		return strcmp(a, b) < 0;
	if (strcmp(op, ">") == 0)
		return strcmp(a, b) > 0;
	long x = strtol(a, NULL, 10), y = strtol(b, NULL, 10);
	if (strcmp(op, "-eq") == 0)
		return x == y;
	if (strcmp(op, "-ne") == 0)
		return x != y;
	if (strcmp(op, "-lt") == 0)
		return x < y;
	if (strcmp(op, "-le") == 0)
		return x <= y;
	if (strcmp(op, "-gt") == 0)
		return x > y;
	return x >= y;
}

/* test's expression: terms joined by -a and -o (-a binds tighter), each
 * term any number of '!' then a unary, binary or one-string test. */
static bool test_eval(struct ctx *c, char **a, size_t n)
{
	bool any = false, all = n > 0; /* `[ ]` is false */
	size_t i = 0;

	while (i < n) {
		bool neg = false, v;
		while (i < n && strcmp(a[i], "!") == 0) {
			neg = !neg;
			i++;
		}
		if (i >= n) {
			v = false;
		} else if (i + 2 < n && is_binary(a[i + 1])) {
			v = test_binary(a[i], a[i + 1], a[i + 2]);
			i += 3;
		} else if (i + 1 < n && is_unary(a[i])) {
			const char *op = a[i], *arg = a[i + 1];
			if (strcmp(op, "-n") == 0)
				v = *arg != '\0';
			else if (strcmp(op, "-z") == 0)
				v = *arg == '\0';
			else
				v = file_test(c, op, arg);
			i += 2;
		} else {
			v = *a[i] != '\0';
			i++;
		}
		all = all && (v != neg);
		if (i < n && strcmp(a[i], "-o") == 0) {
			any = any || all;
			all = true;
		}
		if (i < n && (strcmp(a[i], "-a") == 0 || strcmp(a[i], "-o") == 0))
			i++;
	}
	return any || all;
}

/* ---- kernel command line ---- */

/* Join arguments like grub_create_loader_cmdline: quote-escape \ ' ",
 * put an argument with a space in double quotes. */
static char *loader_cmdline(char **argv, size_t argc)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < argc; i++) {
		bool space = strchr(argv[i], ' ') != NULL;
		if (i)
			buf_addch(&b, ' ');
		if (space)
			buf_addch(&b, '"');
		for (const char *p = argv[i]; *p; p++) {
			if (*p == '\\' || *p == '\'' || *p == '"')
				buf_addch(&b, '\\');
			buf_addch(&b, *p);
		}
		if (space)
			buf_addch(&b, '"');
	}
	return buf_detach(&b);
}

static void entry_set_initrds(struct boot_entry *e, char **argv, size_t argc)
{
	for (size_t i = 0; i < e->n_initrds; i++)
		free(e->initrds[i]);
	free(e->initrds);
	e->initrds = NULL;
	e->n_initrds = 0;
	for (size_t i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0)
			continue;
		e->initrds = xrealloc(e->initrds, (e->n_initrds + 1) * sizeof(char *));
		e->initrds[e->n_initrds++] = xstrdup(argv[i]);
	}
}

/* ---- BLS ---- */

static int rpm_vercmp(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return 0;
	while (*a || *b) {
		while (*a && !isalnum((unsigned char)*a) && *a != '~' && *a != '^')
			a++;
		while (*b && !isalnum((unsigned char)*b) && *b != '~' && *b != '^')
			b++;
		if (*a == '~' || *b == '~') {
			if (*a != '~')
				return 1;
			if (*b != '~')
				return -1;
			a++;
			b++;
			continue;
		}
		if (*a == '^' || *b == '^') {
			if (!*a)
				return -1;
			if (!*b)
				return 1;
			if (*a != '^')
				return 1;
			if (*b != '^')
				return -1;
			a++;
			b++;
			continue;
		}
		if (!*a || !*b)
			break;
		const char *ea = a, *eb = b;
		bool num = isdigit((unsigned char)*a);
		if (num) {
			while (isdigit((unsigned char)*ea))
				ea++;
			while (isdigit((unsigned char)*eb))
				eb++;
		} else {
			while (isalpha((unsigned char)*ea))
				ea++;
			while (isalpha((unsigned char)*eb))
				eb++;
		}
		if (eb == b)
			return num ? 1 : -1;
		if (num) {
			while (*a == '0' && a + 1 < ea)
				a++;
			while (*b == '0' && b + 1 < eb)
				b++;
			if (ea - a != eb - b)
				return ea - a > eb - b ? 1 : -1;
		}
		size_t la = (size_t)(ea - a), lb = (size_t)(eb - b);
		int r = strncmp(a, b, la < lb ? la : lb);
		if (r)
			return r < 0 ? -1 : 1;
		if (la != lb)
			return la > lb ? 1 : -1;
		a = ea;
		b = eb;
	}
	if (!*a && !*b)
		return 0;
	return *a ? 1 : -1;
}

struct bls_entry {
	char *stem;
	char *path;
	char *title;
	char *version;
	char *linux_path;
	struct buf options;
	int options_line;
	char **initrd_lines;
	size_t n_initrd_lines;
};

static void bls_entry_release(struct bls_entry *b)
{
	free(b->stem);
	free(b->path);
	free(b->title);
	free(b->version);
	free(b->linux_path);
	buf_release(&b->options);
	for (size_t i = 0; i < b->n_initrd_lines; i++)
		free(b->initrd_lines[i]);
	free(b->initrd_lines);
}

static int bls_cmp(const void *pa, const void *pb)
{
	const struct bls_entry *a = pa, *b = pb;
	if (a->version && !b->version)
		return -1;
	if (!a->version && b->version)
		return 1;
	int r = a->version ? rpm_vercmp(b->version, a->version) : 0;
	return r ? r : rpm_vercmp(b->stem, a->stem);
}

struct name_list {
	char **v;
	size_t n;
	bool overflow;
};

static void collect_name(const char *name, void *arg)
{
	struct name_list *l = arg;
	size_t len = strlen(name);
	if (len <= 5 || name[0] == '.' || strcmp(name + len - 5, ".conf") != 0 || strchr(name, '/'))
		return;
	if (l->n >= BC_MAX_ENTRIES) {
		l->overflow = true;
		return;
	}
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->v[l->n++] = xstrdup(name);
}

static void bls_parse_file(struct bls_entry *b, const char *text, size_t len)
{
	size_t i = 0;
	int line = 0;
	while (i < len) {
		size_t eol = i;
		while (eol < len && text[eol] != '\n')
			eol++;
		line++;
		size_t k = i;
		while (k < eol && isspace((unsigned char)text[k]))
			k++;
		size_t ks = k;
		while (k < eol && !isspace((unsigned char)text[k]))
			k++;
		size_t ke = k;
		while (k < eol && isspace((unsigned char)text[k]))
			k++;
		size_t ve = eol;
		while (ve > k && isspace((unsigned char)text[ve - 1]))
			ve--;
		char *key = strndup(text + ks, ke - ks), *val = strndup(text + k, ve - k);
		if (key[0] == '#' || key[0] == '\0') {
			free(val);
		} else if (strcmp(key, "title") == 0 && !b->title) {
			b->title = val;
		} else if (strcmp(key, "version") == 0 && !b->version) {
			b->version = val;
		} else if (strcmp(key, "linux") == 0 && !b->linux_path) {
			b->linux_path = val;
		} else if (strcmp(key, "options") == 0) {
			if (b->options.len)
				buf_addch(&b->options, ' ');
			else
				b->options_line = line;
			buf_adds(&b->options, val);
			free(val);
		} else if (strcmp(key, "initrd") == 0 && b->n_initrd_lines < BC_MAX_FIELDS) {
			b->initrd_lines = xrealloc(b->initrd_lines, (b->n_initrd_lines + 1) * sizeof(char *));
			b->initrd_lines[b->n_initrd_lines++] = val;
		} else {
			free(val);
		}
		free(key);
		i = eol + 1;
	}
}

/* Add the BLS entries of dir to the current menu, sorted. -ENOENT if the
 * directory is missing. */
static int bls_insert(struct ctx *c, const char *dir)
{
	struct name_list names = { 0 };
	struct bls_entry *ents = NULL;
	size_t n = 0;
	int r;

	if (!c->io || !c->io->list)
		return -ENOENT;
	r = c->io->list(c->io->arg, dir, collect_name, &names);
	if (r == 0 && names.overflow) {
		buf_printf(c->err, "%s: more than %d boot entries", dir, BC_MAX_ENTRIES);
		r = -EINVAL;
	}
	if (r < 0)
		goto out;
	ents = xcalloc(names.n ? names.n : 1, sizeof(*ents));
	for (size_t i = 0; i < names.n; i++) {
		struct buf text = BUF_INIT;
		char *path = xasprintf("%s/%s", dir, names.v[i]);
		int rr = io_read(c->io, path, &text);
		if (rr < 0) {
			buf_release(&text);
			free(path);
			continue;
		}
		struct bls_entry *b = &ents[n++];
		b->path = path;
		b->options = (struct buf)BUF_INIT;
		b->stem = strndup(names.v[i], strlen(names.v[i]) - 5);
		bls_parse_file(b, text.s, text.len);
		buf_release(&text);
	}
	if (n > 1)
		qsort(ents, n, sizeof(*ents), bls_cmp);
	for (size_t i = 0; i < n; i++) {
		struct bls_entry *b = &ents[i];
		struct pending *pd;
		r = menu_add(c, b->title ? b->title : b->stem, b->stem, false, xstrdup(b->path), &pd, NULL);
		if (r < 0) {
			buf_printf(c->err, "%s: more than %d boot entries", dir, BC_MAX_ENTRIES);
			r = -EINVAL;
			goto out;
		}
		pd->kind = PEND_BLS;
		pd->linux_path = move_ptr(b->linux_path);
		pd->options = b->options.len ? buf_detach(&b->options) : NULL;
		pd->options_line = b->options_line;
		pd->initrd_lines = move_ptr(b->initrd_lines);
		pd->n_initrd_lines = b->n_initrd_lines;
		b->n_initrd_lines = 0;
	}
out:
	for (size_t i = 0; i < n; i++)
		bls_entry_release(&ents[i]);
	free(ents);
	for (size_t i = 0; i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	return r;
}

/* blscfg: $blsdir, else /loader/entries and /boot/loader/entries (the
 * one matching where the config lives first). */
static int cmd_blscfg(struct ctx *c, const char *path)
{
	const char *blsdir = var_get(c, "blsdir");
	if (blsdir && *blsdir) {
		__do_free char *d = fs_path(blsdir);
		int r = bls_insert(c, d);
		return r == -ENOENT ? 0 : r;
	}
	bool on_root = strncmp(path, "/boot/", 6) == 0;
	const char *dirs[2] = { on_root ? "/boot/loader/entries" : "/loader/entries",
				on_root ? "/loader/entries" : "/boot/loader/entries" };
	for (size_t i = 0; i < 2; i++) {
		int r = bls_insert(c, dirs[i]);
		if (r != -ENOENT)
			return r;
	}
	return 0;
}

/* ---- commands ---- */

static bool is_keyword(const struct bc_tok *t, const char *kw)
{
	return t->type == BC_WORD && strcmp(t->text, kw) == 0;
}

static int check_budget(struct parser *p, int line)
{
	if (++p->c->steps > BC_MAX_STEPS)
		return ctx_fail(p->c, p->s->path, line, "configuration too complex (more than %ld commands)",
				BC_MAX_STEPS);
	return 0;
}

static int cmd_load_env(struct ctx *c, char **argv, size_t argc)
{
	const char *file = NULL;
	size_t i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0) && i + 1 < argc)
			file = argv[++i];
		else if (strncmp(argv[i], "--file=", 7) == 0)
			file = argv[i] + 7;
	}
	__do_free char *def = NULL;
	if (!file) {
		const char *prefix = var_get(c, "prefix");
		def = xasprintf("%s/grubenv", prefix ? prefix : "");
		file = def;
	}
	struct buf b = BUF_INIT;
	int r = io_read(c->io, file, &b);
	if (r == 0)
		r = grubenv_apply(c, b.s, b.len, argv + i, argc - i);
	buf_release(&b);
	return r;
}

static int cmd_linux(struct ctx *c, char **argv, size_t argc)
{
	if (argc < 2)
		return -EINVAL;
	struct boot_entry *e = c->cur;
	free(e->kernel);
	free(e->cmdline);
	e->kernel = xstrdup(argv[1]);
	e->cmdline = loader_cmdline(argv + 2, argc - 2);
	return 0;
}

/* Run one simple command; sets c->status.  <0 only for a fatal error. */
static int run_command(struct parser *p, char **argv, size_t argc, int line)
{
	struct ctx *c = p->c;
	const char *cmd = argv[0];
	int r = 0, st = 0;

	if (strcmp(cmd, "set") == 0) {
		for (size_t i = 1; i < argc && r == 0; i++) {
			char *eq = strchr(argv[i], '=');
			if (!eq)
				continue;
			*eq = '\0';
			r = var_set(c, argv[i], eq + 1);
		}
	} else if (strcmp(cmd, "unset") == 0) {
		for (size_t i = 1; i < argc && r == 0; i++)
			r = var_set(c, argv[i], NULL);
	} else if (strcmp(cmd, "export") == 0) {
		for (size_t i = 1; i < argc; i++) {
			struct var *v = vars_find(&c->vars, argv[i]);
			if (v)
				v->exported = true;
			else if ((r = var_set(c, argv[i], "")) == 0 && (v = vars_find(&c->vars, argv[i])))
				v->exported = true;
		}
	} else if (strcmp(cmd, "[") == 0 || strcmp(cmd, "test") == 0) {
		size_t n = argc - 1;
		if (cmd[0] == '[' && n > 0 && strcmp(argv[argc - 1], "]") == 0)
			n--;
		st = test_eval(c, argv + 1, n) ? 0 : 1;
	} else if (strcmp(cmd, "false") == 0) {
		st = 1;
	} else if (strcmp(cmd, "load_env") == 0) {
		r = cmd_load_env(c, argv, argc);
		st = r == 0 ? 0 : 1;
		if (r != -E2BIG)
			r = 0;
	} else if (strcmp(cmd, "source") == 0 || strcmp(cmd, ".") == 0 || strcmp(cmd, "configfile") == 0) {
		if (argc < 2 || c->in_entry)
			return 0;
		if (cmd[0] == 'c' && c->tprefix)
			return 0; /* runs only when the submenu is chosen by hand */
		if (cmd[0] == 'c') {
			/* GRUB shows the new file's menu and does not come back: only
			 * exported variables survive, the entries so far are dropped */
			struct vars keep = { 0 };
			for (size_t i = 0; i < c->vars.n; i++)
				if (c->vars.v[i].exported) {
					keep.v = xrealloc(keep.v, (keep.n + 1) * sizeof(*keep.v));
					keep.v[keep.n++] = c->vars.v[i];
				} else {
					free(c->vars.v[i].name);
					free(c->vars.v[i].value);
				}
			free(c->vars.v);
			c->vars = keep;
			for (size_t i = 0; i < c->n; i++) {
				entry_release(&c->entries[i]);
				pending_release(&c->pend[i]);
			}
			c->n = 0;
			c->nitems = 0;
			menu_release(&c->top);
			c->menu = &c->top;
		}
		r = script_run_file(c, argv[1], line, p->s->path);
		if (cmd[0] == 'c')
			c->stop = true;
		if (r == -ENOENT) {
			st = 1;
			r = 0;
		}
		if (r < 0)
			return r;
	} else if (strcmp(cmd, "blscfg") == 0) {
		if (!c->in_entry && (r = cmd_blscfg(c, p->s->path)) < 0)
			return r;
	} else if (c->in_entry && (strcmp(cmd, "linux") == 0 || strcmp(cmd, "linux16") == 0 ||
				   strcmp(cmd, "linuxefi") == 0)) {
		st = cmd_linux(c, argv, argc) == 0 ? 0 : 1;
	} else if (c->in_entry && (strcmp(cmd, "initrd") == 0 || strcmp(cmd, "initrd16") == 0 ||
				   strcmp(cmd, "initrdefi") == 0)) {
		entry_set_initrds(c->cur, argv + 1, argc - 1);
	}
	if (r == -E2BIG)
		return ctx_fail(c, p->s->path, line, "too many variables (more than %d)", BC_MAX_VARS);
	if (r < 0)
		return r;
	c->status = st;
	return 0;
}

/* Collect the words of a command up to a separator, '{' or '}'. */
static size_t command_words(struct parser *p)
{
	size_t start = p->pos;
	while (p->s->toks[p->pos].type == BC_WORD)
		p->pos++;
	return p->pos - start;
}

static int expand_words(struct ctx *c, const struct bc_tok *t, size_t n, struct fields *f, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (expand_word(c, t[i].text, true, f) < 0)
			return ctx_fail(c, path, t[i].line, "command longer than %u arguments or %u bytes after expansion",
					BC_MAX_FIELDS, BC_MAX_ARGBYTES);
	return 0;
}

static int simple_command(struct parser *p, bool active)
{
	struct ctx *c = p->c;
	const struct bc_tok *t = &p->s->toks[p->pos];
	int line = t->line;
	size_t n = command_words(p);
	int r;

	if ((r = check_budget(p, line)) < 0)
		return r;
	if (p->s->toks[p->pos].type == BC_LBRACE)
		return ctx_fail(c, p->s->path, p->s->toks[p->pos].line, "unexpected '{' after '%s'", t->text);
	if (!active)
		return 0;
	bool negate = false;
	while (n > 0 && strcmp(t->text, "!") == 0) {
		negate = !negate;
		t++;
		n--;
	}
	const char *eq = n > 0 ? strchr(t->text, '=') : NULL;
	if (n > 0 && eq && eq > t->text && name_char(t->text[0], true)) {
		const char *q = t->text;
		while (q < eq && name_char(*q, false))
			q++;
		if (q == eq) {
			/* NAME=value */
			struct fields f = { 0 };
			if (expand_word(c, eq + 1, false, &f) < 0) {
				fields_release(&f);
				return ctx_fail(c, p->s->path, line, "value longer than %u bytes", BC_MAX_VALUE);
			}
			__do_free char *name = strndup(t->text, (size_t)(eq - t->text));
			r = var_set(c, name, f.n ? f.v[0] : "");
			fields_release(&f);
			if (r < 0)
				return ctx_fail(c, p->s->path, line, "too many variables (more than %d)", BC_MAX_VARS);
			c->status = negate;
			return 0;
		}
	}
	struct fields f = { 0 };
	r = expand_words(c, t, n, &f, p->s->path);
	if (r == 0 && f.n > 0)
		r = run_command(p, f.v, f.n, line);
	else if (r == 0)
		c->status = 0;
	fields_release(&f);
	if (negate)
		c->status = !c->status;
	return r;
}

/* At '{': parse the body to its '}' (active or not); start of the body
 * in *body. */
static int parse_block(struct parser *p, bool active, const char *what, int line, size_t *body)
{
	if (p->s->toks[p->pos].type != BC_LBRACE)
		return ctx_fail(p->c, p->s->path, line, "%s without a body in { }", what);
	p->pos++;
	if (body)
		*body = p->pos;
	int found = 0;
	int r = parse_list(p, active, TERM_BRACE | TERM_EOF, &found);
	if (r < 0)
		return r;
	if (found != TERM_BRACE)
		return ctx_fail(p->c, p->s->path, line, "%s without a closing }", what);
	p->pos++;
	return 0;
}

/* menuentry/submenu TITLE [options] { ... } */
static int parse_menuentry(struct parser *p, bool active, bool submenu)
{
	struct ctx *c = p->c;
	const char *what = submenu ? "submenu" : "menuentry";
	int line = p->s->toks[p->pos].line;
	p->pos++;
	const struct bc_tok *t = &p->s->toks[p->pos];
	size_t n = command_words(p);
	int r;

	if ((r = check_budget(p, line)) < 0)
		return r;
	if (!active || c->in_entry)
		return parse_block(p, false, what, line, NULL);

	struct fields f = { 0 };
	if ((r = expand_words(c, t, n, &f, p->s->path)) < 0) {
		fields_release(&f);
		return r;
	}
	const char *title = NULL, *id = NULL;
	for (size_t i = 0; i < f.n; i++) {
		const char *a = f.v[i];
		if (strcmp(a, "--id") == 0 || strcmp(a, "--class") == 0 || strcmp(a, "--users") == 0 ||
		    strcmp(a, "--hotkey") == 0) {
			if (i + 1 < f.n && a[2] == 'i')
				id = f.v[i + 1];
			i++;
		} else if (strncmp(a, "--id=", 5) == 0) {
			id = a + 5;
		} else if (strncmp(a, "--", 2) != 0 && !title) {
			title = a;
		}
	}
	if (!title) {
		fields_release(&f);
		return ctx_fail(c, p->s->path, line, "%s without a title", what);
	}
	struct pending *pd = NULL;
	struct item *it = NULL;
	r = menu_add(c, title, id, submenu, xasprintf("%s:%d", p->s->path, line), &pd, &it);
	if (r < 0) {
		fields_release(&f);
		return ctx_fail(c, p->s->path, line, "more than %d menu entries", BC_MAX_ENTRIES);
	}
	if (!submenu) {
		fields_release(&f);
		pd->kind = PEND_SCRIPT;
		pd->s = p->s;
		return parse_block(p, false, what, line, &pd->start);
	}

	/* a submenu's entries are listed as "Sub>Entry" */
	struct menu *saved_menu = c->menu;
	char *saved_t = c->tprefix, *saved_i = c->iprefix;
	const char *dv = var_get(c, "default");
	char *saved_default = dv ? xstrdup(dv) : NULL;
	c->menu = it->sub;
	c->tprefix = xasprintf("%s%s>", saved_t ? saved_t : "", title);
	c->iprefix = id && (!saved_t || saved_i) ? xasprintf("%s%s>", saved_i ? saved_i : "", id) : NULL;
	fields_release(&f);
	r = parse_block(p, true, what, line, NULL);
	free(c->tprefix);
	free(c->iprefix);
	c->tprefix = saved_t;
	c->iprefix = saved_i;
	c->menu = saved_menu;
	if (r == 0)
		r = var_set(c, "default", saved_default);
	free(saved_default);
	return r;
}

static int parse_if(struct parser *p, bool active)
{
	int line = p->s->toks[p->pos].line;
	bool taken = false;
	int found = 0, r;

	p->pos++;
	for (;;) {
		/* condition up to 'then' */
		bool cond_active = active && !taken;
		if ((r = parse_list(p, cond_active, TERM_THEN | TERM_EOF, &found)) < 0)
			return r;
		if (found != TERM_THEN)
			return ctx_fail(p->c, p->s->path, line, "'if' without 'then'");
		p->pos++;
		bool run = cond_active && p->c->status == 0;
		if ((r = parse_list(p, run, TERM_ELSE | TERM_FI | TERM_EOF, &found)) < 0)
			return r;
		taken = taken || run;
		if (found == TERM_EOF)
			return ctx_fail(p->c, p->s->path, line, "'if' without matching 'fi'");
		const char *kw = p->s->toks[p->pos].text;
		p->pos++;
		if (strcmp(kw, "fi") == 0)
			break;
		if (strcmp(kw, "else") == 0) {
			if ((r = parse_list(p, active && !taken, TERM_FI | TERM_EOF, &found)) < 0)
				return r;
			if (found != TERM_FI)
				return ctx_fail(p->c, p->s->path, line, "'if' without matching 'fi'");
			p->pos++;
			break;
		}
		/* elif: loop for its condition */
	}
	if (active && !taken)
		p->c->status = 0;
	return 0;
}

/* while/until/for: parsed, never run (no loop can hang the parser). */
static int parse_loop(struct parser *p)
{
	int line = p->s->toks[p->pos].line, found = 0, r;
	const char *kw = p->s->toks[p->pos].text;
	p->pos++;
	if ((r = parse_list(p, false, TERM_DO | TERM_EOF, &found)) < 0)
		return r;
	if (found != TERM_DO)
		return ctx_fail(p->c, p->s->path, line, "'%s' without 'do'", kw);
	p->pos++;
	if ((r = parse_list(p, false, TERM_DONE | TERM_EOF, &found)) < 0)
		return r;
	if (found != TERM_DONE)
		return ctx_fail(p->c, p->s->path, line, "'%s' without matching 'done'", kw);
	p->pos++;
	return 0;
}

static int term_of(const struct bc_tok *t)
{
	static const struct {
		const char *kw;
		int term;
	} kws[] = { { "then", TERM_THEN }, { "elif", TERM_ELSE }, { "else", TERM_ELSE }, { "fi", TERM_FI },
		    { "do", TERM_DO },	   { "done", TERM_DONE } };
	if (t->type == BC_EOF)
		return TERM_EOF;
	if (t->type == BC_RBRACE)
		return TERM_BRACE;
	for (size_t i = 0; t->type == BC_WORD && i < ARRAY_SIZE(kws); i++)
		if (strcmp(t->text, kws[i].kw) == 0)
			return kws[i].term;
	return 0;
}

/* Parse (and if active run) commands until a terminator in terms, which
 * is left unconsumed and reported in *found. */
static int parse_list(struct parser *p, bool active, int terms, int *found)
{
	struct ctx *c = p->c;
	int r = 0;

	if (++p->depth > BC_MAX_DEPTH) {
		r = ctx_fail(c, p->s->path, p->s->toks[p->pos].line, "blocks nested more than %d deep",
			     BC_MAX_DEPTH);
		goto out;
	}
	for (;;) {
		if (c->stop)
			active = false;
		const struct bc_tok *t = &p->s->toks[p->pos];
		if (t->type == BC_SEP) {
			p->pos++;
			continue;
		}
		int term = term_of(t);
		if (term & terms) {
			*found = term;
			break;
		}
		if (term == TERM_EOF) {
			*found = term;
			break;
		}
		if (term == TERM_BRACE) {
			r = ctx_fail(c, p->s->path, t->line, "'}' without a matching '{'");
		} else if (term) {
			r = ctx_fail(c, p->s->path, t->line, "'%s' without %s", t->text,
				     term == TERM_DO || term == TERM_DONE ? "a loop" : "'if'");
		} else if (t->type == BC_LBRACE) {
			r = ctx_fail(c, p->s->path, t->line, "unexpected '{'");
		} else if (is_keyword(t, "if")) {
			r = parse_if(p, active);
		} else if (is_keyword(t, "menuentry") || is_keyword(t, "submenu")) {
			r = parse_menuentry(p, active, t->text[0] == 's');
		} else if (is_keyword(t, "while") || is_keyword(t, "until") || is_keyword(t, "for")) {
			r = parse_loop(p);
		} else if (is_keyword(t, "function")) {
			int line = t->line;
			p->pos++;
			if (p->s->toks[p->pos].type == BC_WORD)
				p->pos++;
			while (p->s->toks[p->pos].type == BC_SEP)
				p->pos++;
			r = parse_block(p, false, "function", line, NULL);
		} else {
			r = simple_command(p, active);
		}
		if (r < 0)
			break;
	}
out:
	p->depth--;
	return r;
}

/* Lex and run one script text in the context. */
static int script_run_text(struct ctx *c, const char *text, size_t len, const char *path)
{
	struct bc_script *s = xcalloc(1, sizeof(*s));
	s->next = c->scripts;
	c->scripts = s;
	if (len > BC_MAX_FILE) {
		buf_printf(c->err, "%s: larger than %u bytes", path, BC_MAX_FILE);
		return -EFBIG;
	}
	int r = bc_lex(text, len, path, 1, s, c->err);
	if (r < 0)
		return r;
	struct parser p = { .c = c, .s = s, .pos = 0, .depth = 0 };
	int found = 0;
	r = parse_list(&p, true, TERM_EOF, &found);
	return r;
}

static int script_run_file(struct ctx *c, const char *path, int line_of, const char *from)
{
	if (c->source_depth >= BC_MAX_SOURCE)
		return ctx_fail(c, from, line_of, "source nested more than %d deep", BC_MAX_SOURCE);
	struct buf text = BUF_INIT;
	__do_free char *fp = fs_path(path);
	int r = io_read(c->io, fp, &text);
	if (r == -EFBIG)
		r = ctx_fail(c, from, line_of, "%s is larger than %u bytes", fp, BC_MAX_FILE);
	if (r == 0) {
		c->source_depth++;
		r = script_run_text(c, text.s, text.len, fp);
		c->source_depth--;
	}
	buf_release(&text);
	return r;
}

/* ---- finishing ---- */

/* GRUB's menuentry_eq: length of spec consumed when name matches its first
 * '>'-separated component ('>>' stands for '>'), else 0. */
static size_t menuentry_eq(const char *name, const char *spec)
{
	const char *a = name, *b = spec;
	if (!name)
		return 0;
	for (;;) {
		if (*b == '>' && b[1] != '>' && *a == '\0')
			return (size_t)(b - spec);
		if (*b == '>' && b[1] != '>')
			return 0;
		if (*b == '>')
			b++;
		if (*a != *b)
			return 0;
		if (*a == '\0')
			return (size_t)(b - spec);
		a++;
		b++;
	}
}

/* The flat index GRUB would boot for `default` = spec, or -1. */
static int menu_pick(const struct menu *m, const char *spec)
{
	for (int depth = 0; depth < 64; depth++) {
		long idx = 0;
		const char *tail = NULL;
		if (spec && *spec) {
			char *end;
			unsigned long v = strtoul(spec, &end, 0);
			if (end != spec && isdigit((unsigned char)*spec)) {
				idx = v > (unsigned long)m->n ? (long)m->n : (long)v;
				tail = end;
			} else {
				idx = -1;
				for (size_t i = 0; i < m->n && idx < 0; i++) {
					size_t sz = menuentry_eq(m->items[i].title, spec);
					if (sz < 1)
						sz = menuentry_eq(m->items[i].id, spec);
					if (sz >= 1) {
						idx = (long)i;
						tail = spec + sz;
					}
				}
			}
		}
		if (idx < 0 || (size_t)idx >= m->n) {
			idx = 0;
			tail = spec ? strchr(spec, '>') : NULL;
		}
		if (m->n == 0)
			return -1;
		const struct item *it = &m->items[idx];
		if (!it->sub)
			return (int)it->entry;
		m = it->sub;
		spec = tail && *tail == '>' ? tail + 1 : NULL;
	}
	return -1;
}

/* Run an entry's deferred body or BLS fields with the final variables. */
static int entry_finish(struct ctx *c, size_t i)
{
	struct pending *pd = &c->pend[i];
	struct boot_entry *e = &c->entries[i];
	int r = 0;

	c->in_entry = true;
	c->cur = e;
	if (pd->kind == PEND_SCRIPT) {
		struct parser p = { .c = c, .s = pd->s, .pos = pd->start, .depth = 1 };
		int found = 0;
		r = parse_list(&p, true, TERM_BRACE | TERM_EOF, &found);
	} else if (pd->kind == PEND_BLS) {
		e->kernel = pd->linux_path ? xstrdup(pd->linux_path) : NULL;
		for (size_t k = 0; k <= pd->n_initrd_lines && r == 0; k++) {
			/* k == n: the options */
			const char *src = k < pd->n_initrd_lines ? pd->initrd_lines[k] : pd->options;
			struct bc_script s = { 0 };
			struct fields f = { 0 };
			if (!src)
				src = "";
			r = bc_lex(src, strlen(src), e->origin, k < pd->n_initrd_lines ? 1 : pd->options_line, &s,
				   c->err);
			for (size_t t = 0; r == 0 && t < s.n; t++)
				if (s.toks[t].type == BC_WORD && expand_word(c, s.toks[t].text, true, &f) < 0)
					r = ctx_fail(c, e->origin, s.toks[t].line,
						     "more than %u arguments or %u bytes after expansion", BC_MAX_FIELDS,
						     BC_MAX_ARGBYTES);
			if (r == 0 && k < pd->n_initrd_lines && e->n_initrds + f.n > BC_MAX_FIELDS)
				r = ctx_fail(c, e->origin, 1, "more than %u initrd images", BC_MAX_FIELDS);
			if (r == 0 && k < pd->n_initrd_lines) {
				size_t old = e->n_initrds;
				e->initrds = xrealloc(e->initrds, (old + f.n + 1) * sizeof(char *));
				for (size_t t = 0; t < f.n; t++)
					e->initrds[e->n_initrds++] = xstrdup(f.v[t]);
			} else if (r == 0) {
				e->cmdline = loader_cmdline(f.v, f.n);
			}
			fields_release(&f);
			bc_script_release(&s);
		}
	}
	vars_release(&c->overlay);
	c->in_entry = false;
	c->cur = NULL;
	return r;
}

static void ctx_release(struct ctx *c)
{
	vars_release(&c->vars);
	vars_release(&c->overlay);
	while (c->scripts) {
		struct bc_script *s = c->scripts;
		c->scripts = s->next;
		bc_script_release(s);
		free(s);
	}
	menu_release(&c->top);
	for (size_t i = 0; i < c->n; i++) {
		entry_release(&c->entries[i]);
		pending_release(&c->pend[i]);
	}
	free(c->entries);
	free(c->pend);
	free(c->tprefix);
	free(c->iprefix);
}

static void ctx_init(struct ctx *c, const struct bootcfg_io *io, const char *path, struct buf *err)
{
	static const char *const features[] = {
		"feature_chainloader_bpb",    "feature_ntldr",		"feature_platform_search_hint",
		"feature_default_font_path", "feature_all_video_module", "feature_menuentry_id",
		"feature_menuentry_options", "feature_200_final",	"feature_nativedisk_cmd",
		"feature_timeout_style",
	};
	memset(c, 0, sizeof(*c));
	c->io = io;
	c->err = err;
	c->menu = &c->top;
	for (size_t i = 0; i < ARRAY_SIZE(features); i++)
		var_set(c, features[i], "y");
	var_set(c, "grub_platform", "pc");
	var_set(c, "grub_cpu", "i386");
	__do_free char *dir = strndup(path, strrchr(path, '/') ? (size_t)(strrchr(path, '/') - path) : 0);
	var_set(c, "prefix", dir);
	var_set(c, "config_directory", dir);
	var_set(c, "config_file", path);
}

/* Run the deferred entries, pick the default and hand everything to out. */
static int ctx_finish(struct ctx *c, const char *format, const char *path, int default_index,
		      struct boot_config *out)
{
	c->stop = false;
	for (size_t i = 0; i < c->n; i++) {
		int r = entry_finish(c, i);
		if (r < 0)
			return r;
	}
	memset(out, 0, sizeof(*out));
	out->format = xstrdup(format);
	out->path = xstrdup(path);
	out->n = c->n;
	out->entries = c->n ? move_ptr(c->entries) : NULL;
	out->default_index = c->n ? default_index : -1;
	for (size_t i = 0; i < c->n; i++)
		pending_release(&c->pend[i]);
	c->n = 0;
	return 0;
}

int bootcfg_parse_grub2(const char *text, size_t len, const char *path, const struct bootcfg_io *io,
			struct boot_config *out, struct buf *err)
{
	struct ctx c;
	ctx_init(&c, io, path, err);
	memset(out, 0, sizeof(*out));
	out->default_index = -1;
	int r = script_run_text(&c, text, len, path);
	if (r == 0) {
		const char *def = var_get(&c, "default");
		if (def && strcmp(def, "saved") == 0)
			def = var_get(&c, "saved_entry");
		__do_free char *spec = def ? xstrdup(def) : NULL;
		r = ctx_finish(&c, "grub2", path, menu_pick(&c.top, spec), out);
	}
	ctx_release(&c);
	return r;
}

int bootcfg_parse_bls(const struct bootcfg_io *io, const char *dir, struct boot_config *out, struct buf *err)
{
	struct ctx c;
	size_t dl = strlen(dir);
	static const char suffix[] = "/loader/entries";
	__do_free char *base = dl >= strlen(suffix) && strcmp(dir + dl - strlen(suffix), suffix) == 0
				       ? strndup(dir, dl - strlen(suffix))
				       : xstrdup("");
	const char *envs[] = { "grub2/grubenv", "grub/grubenv" };
	int r;

	ctx_init(&c, io, dir, err);
	memset(out, 0, sizeof(*out));
	out->default_index = -1;
	/* kernelopts, saved_entry and next_entry live in the grubenv */
	for (size_t i = 0; i < ARRAY_SIZE(envs); i++) {
		__do_free char *env = xasprintf("%s/%s", base, envs[i]);
		struct buf b = BUF_INIT;
		r = io_read(io, env, &b);
		if (r == 0)
			r = grubenv_apply(&c, b.s, b.len, NULL, 0);
		buf_release(&b);
		if (r == 0)
			break;
	}
	r = bls_insert(&c, dir);
	if (r == -ENOENT)
		buf_printf(err, "BLS entry directory %s does not exist", dir);
	if (r == 0) {
		const char *next = var_get(&c, "next_entry"), *saved = var_get(&c, "saved_entry");
		const char *want = next && *next ? next : saved;
		int def = 0;
		for (size_t i = 0; want && i < c.n; i++)
			if (c.entries[i].id && strcmp(c.entries[i].id, want) == 0) {
				def = (int)i;
				break;
			}
		r = ctx_finish(&c, "bls", dir, def, out);
	}
	ctx_release(&c);
	return r;
}

/* ---- legacy GRUB ---- */

static void trim_right(const char *s, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)s[*len - 1]))
		(*len)--;
}

/* Read the number at the start of legacy GRUB's `default` file. */
static long legacy_saved_default(const struct bootcfg_io *io, const char *path)
{
	const char *slash = strrchr(path, '/');
	__do_free char *f = xasprintf("%.*s/default", slash ? (int)(slash - path) : 0, path);
	struct buf b = BUF_INIT;
	long v = 0;
	if (io_read(io, f, &b) == 0 && isdigit((unsigned char)b.s[0]))
		v = strtol(b.s, NULL, 10);
	buf_release(&b);
	return v;
}

static int legacy_parse(const char *text, size_t len, const char *path, const struct bootcfg_io *io,
			struct boot_config *out, struct buf *err)
{
	struct boot_entry *ents = NULL, *e = NULL;
	size_t n = 0, i = 0;
	long def = 0;
	bool saved = false;
	int line = 0;

	memset(out, 0, sizeof(*out));
	out->default_index = -1;
	if (len > BC_MAX_FILE) {
		buf_printf(err, "%s: larger than %u bytes", path, BC_MAX_FILE);
		return -EFBIG;
	}
	while (i < len) {
		size_t eol = i;
		while (eol < len && text[eol] != '\n')
			eol++;
		line++;
		const char *l = text + i;
		size_t ll = eol - i, k = 0;
		i = eol + 1;
		trim_right(l, &ll);
		while (k < ll && isspace((unsigned char)l[k]))
			k++;
		if (k >= ll || l[k] == '#')
			continue;
		size_t ks = k;
		while (k < ll && !isspace((unsigned char)l[k]) && l[k] != '=')
			k++;
		size_t klen = k - ks;
		while (k < ll && (l[k] == ' ' || l[k] == '\t'))
			k++;
		if (k < ll && l[k] == '=')
			k++;
		while (k < ll && (l[k] == ' ' || l[k] == '\t'))
			k++;
		const char *key = l + ks, *val = l + k;
		size_t vlen = ll - k;
		if (klen == 5 && strncmp(key, "title", 5) == 0) {
			if (n >= BC_MAX_ENTRIES) {
				for (size_t j = 0; j < n; j++)
					entry_release(&ents[j]);
				free(ents);
				buf_printf(err, "%s:%d: more than %d menu entries", path, line, BC_MAX_ENTRIES);
				return -EINVAL;
			}
			ents = xrealloc(ents, (n + 1) * sizeof(*ents));
			e = &ents[n++];
			memset(e, 0, sizeof(*e));
			e->title = strndup(val, vlen);
			e->origin = xasprintf("%s:%d", path, line);
		} else if (!e && klen == 7 && strncmp(key, "default", 7) == 0) {
			char num[16]; /* val is not NUL-terminated */
			snprintf(num, sizeof(num), "%.*s", (int)(vlen < sizeof(num) ? vlen : sizeof(num) - 1), val);
			saved = strcmp(num, "saved") == 0;
			def = saved ? 0 : strtol(num, NULL, 10);
		} else if (e && ((klen == 6 && strncmp(key, "kernel", 6) == 0) ||
				 (klen == 6 && strncmp(key, "initrd", 6) == 0))) {
			size_t p = 0, ps;
			/* skip --type=..., --no-mem-option */
			for (;;) {
				while (p < vlen && isspace((unsigned char)val[p]))
					p++;
				if (p + 1 < vlen && val[p] == '-' && val[p + 1] == '-')
					while (p < vlen && !isspace((unsigned char)val[p]))
						p++;
				else
					break;
			}
			ps = p;
			while (p < vlen && !isspace((unsigned char)val[p]))
				p++;
			if (p == ps)
				continue;
			char *file = strndup(val + ps, p - ps);
			while (p < vlen && isspace((unsigned char)val[p]))
				p++;
			if (key[0] == 'k') {
				free(e->kernel);
				free(e->cmdline);
				e->kernel = file;
				e->cmdline = strndup(val + p, vlen - p);
			} else {
				entry_set_initrds(e, &file, 1);
				free(file);
			}
		}
	}
	if (saved)
		def = legacy_saved_default(io, path);
	out->format = xstrdup("grub-legacy");
	out->path = xstrdup(path);
	out->entries = ents;
	out->n = n;
	out->default_index = n == 0 ? -1 : def < 0 || (size_t)def >= n ? 0 : (int)def;
	return 0;
}

int bootcfg_parse_legacy(const char *text, size_t len, const char *path, struct boot_config *out, struct buf *err)
{
	return legacy_parse(text, len, path, NULL, out, err);
}

int bootcfg_load(const struct bootcfg_io *io, struct boot_config *out, struct buf *err)
{
	static const char *const grub2[] = { "/boot/grub/grub.cfg", "/grub/grub.cfg", "/boot/grub2/grub.cfg",
					     "/grub2/grub.cfg" };
	static const char *const bls[] = { "/boot/loader/entries", "/loader/entries" };
	static const char *const legacy[] = { "/boot/grub/menu.lst", "/grub/menu.lst", "/boot/grub/grub.conf",
					      "/grub/grub.conf" };
	struct buf text = BUF_INIT;
	int r;

	memset(out, 0, sizeof(*out));
	out->default_index = -1;
	for (size_t i = 0; i < ARRAY_SIZE(grub2) + ARRAY_SIZE(bls) + ARRAY_SIZE(legacy); i++) {
		if (i >= ARRAY_SIZE(grub2) && i < ARRAY_SIZE(grub2) + ARRAY_SIZE(bls)) {
			const char *dir = bls[i - ARRAY_SIZE(grub2)];
			int count = 0;
			if (!io->list || io->list(io->arg, dir, note_name, &count) < 0 || count == 0)
				continue;
			r = bootcfg_parse_bls(io, dir, out, err);
			if (r < 0 || out->n > 0)
				goto out;
			boot_config_release(out);
			continue;
		}
		const char *path = i < ARRAY_SIZE(grub2) ? grub2[i] : legacy[i - ARRAY_SIZE(grub2) - ARRAY_SIZE(bls)];
		r = io_read(io, path, &text);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			buf_printf(err, "cannot read boot configuration %s: %s", path,
				   r == -EFBIG ? "file larger than 4 MiB" : strerror(-r));
			goto out;
		}
		if (i < ARRAY_SIZE(grub2))
			r = bootcfg_parse_grub2(text.s, text.len, path, io, out, err);
		else
			r = legacy_parse(text.s, text.len, path, io, out, err);
		goto out;
	}
	buf_adds(err, "no boot loader configuration found (no grub.cfg, BLS entries, menu.lst or grub.conf)");
	r = -ENOENT;
out:
	buf_release(&text);
	return r;
}

int bootcfg_select(const struct boot_config *c, const char *want, struct buf *err)
{
	size_t match = 0, nmatch = 0;

	if (!want || !*want) {
		if (c->default_index < 0 || (size_t)c->default_index >= c->n) {
			buf_printf(err, "boot configuration %s has no default entry", c->path ? c->path : "");
			return -ENOENT;
		}
		return c->default_index;
	}
	if (strspn(want, "0123456789") == strlen(want)) {
		unsigned long v = strlen(want) <= 9 ? strtoul(want, NULL, 10) : (unsigned long)-1;
		if (v >= c->n) {
			buf_printf(err, "boot entry %s is out of range: %s has %zu entries", want,
				   c->path ? c->path : "the configuration", c->n);
			return -ENOENT;
		}
		return (int)v;
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->entries[i].title && strcmp(c->entries[i].title, want) == 0)
			return (int)i;
	for (size_t i = 0; i < c->n; i++)
		if (c->entries[i].id && strcmp(c->entries[i].id, want) == 0)
			return (int)i;
	for (size_t i = 0; i < c->n; i++)
		if (c->entries[i].title && strncmp(c->entries[i].title, want, strlen(want)) == 0) {
			if (nmatch++ == 0)
				match = i;
			else if (nmatch == 2) {
				buf_printf(err, "boot entry '%s' is ambiguous: it matches '%s' and '%s'", want,
					   c->entries[match].title, c->entries[i].title);
				return -EINVAL;
			}
		}
	if (nmatch == 1)
		return (int)match;
	buf_printf(err, "no boot entry matches '%s'", want);
	return -ENOENT;
}

void boot_config_release(struct boot_config *c)
{
	for (size_t i = 0; i < c->n; i++)
		entry_release(&c->entries[i]);
	free(c->entries);
	free(c->format);
	free(c->path);
	memset(c, 0, sizeof(*c));
	c->default_index = -1;
}
