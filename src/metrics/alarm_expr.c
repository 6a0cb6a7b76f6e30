/*
 * alarm_expr.c - the expression language of alarm rules (see alarm.h):
 * a small tokenizer (words, numbers with their unit, comparison operators)
 * and a recursive-descent parser over it.  Every refusal names the column
 * where it went wrong and what was expected there, because the text comes
 * straight from a command line or an API body.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/alarm.h"
#include "util/strutil.h"
#include "util/common.h"

const struct alarm_metric alarm_metrics[] = {
	{ "cpu", ALARM_SCOPE_VM, "%", true, "CPU of the VM's QEMU, percent of one CPU (200: two busy vCPUs)" },
	{ "memory", ALARM_SCOPE_VM, "bytes", false, "resident memory of the VM's QEMU" },
	{ "disk_read", ALARM_SCOPE_VM, "bytes/s", false, "bytes/s the guest reads, all its disks" },
	{ "disk_write", ALARM_SCOPE_VM, "bytes/s", false, "bytes/s the guest writes, all its disks" },
	{ "net_receive", ALARM_SCOPE_VM, "bytes/s", false, "bytes/s the guest receives, all its network NICs" },
	{ "net_transmit", ALARM_SCOPE_VM, "bytes/s", false, "bytes/s the guest sends, all its network NICs" },
	{ "pool_used", ALARM_SCOPE_POOL, "bytes", true, "bytes used on a pool's filesystem (NN%: of its size)" },
	{ "host_cpu", ALARM_SCOPE_HOST, "%", true, "the host's CPU, percent of all its CPUs" },
	{ "host_memory", ALARM_SCOPE_HOST, "bytes", true, "the host's used memory (NN%: of MemTotal)" },
	{ "host_load", ALARM_SCOPE_HOST, "", false, "the host's load average over 1 minute" },
};
const size_t alarm_metrics_count = ARRAY_SIZE(alarm_metrics);
_Static_assert(ARRAY_SIZE(alarm_metrics) <= ALARM_METRICS_MAX, "ALARM_METRICS_MAX too small");

int alarm_metric_index(const char *name)
{
	for (size_t i = 0; name && i < alarm_metrics_count; i++)
		if (strcmp(alarm_metrics[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const struct {
	const char *words[3];
	enum alarm_event ev;
	enum alarm_scope scope;
} events[] = {
	{ { "vm", "crashed", NULL }, ALARM_EV_VM_CRASHED, ALARM_SCOPE_VM },
	{ { "backup", "failed", NULL }, ALARM_EV_BACKUP_FAILED, ALARM_SCOPE_VM },
	{ { "ha", "restarted", NULL }, ALARM_EV_HA_RESTARTED, ALARM_SCOPE_VM },
	{ { "host", "lost", "quorum" }, ALARM_EV_HOST_LOST_QUORUM, ALARM_SCOPE_HOST },
};

const char *alarm_event_name(enum alarm_event ev)
{
	switch (ev) {
	case ALARM_EV_VM_CRASHED: return "vm crashed";
	case ALARM_EV_BACKUP_FAILED: return "backup failed";
	case ALARM_EV_HA_RESTARTED: return "ha restarted";
	case ALARM_EV_HOST_LOST_QUORUM: return "host lost quorum";
	}
	return "?";
}

/* ---- tokens ---- */

enum tok_kind { T_END, T_WORD, T_NUM, T_OP, T_BAD };

struct tok {
	enum tok_kind kind;
	size_t col;        /* 1-based */
	const char *start; /* into the text */
	size_t len;
	/* T_NUM */
	double num;
	const char *unit; /* the suffix right after the digits */
	size_t unit_len;
	/* T_OP */
	enum alarm_op op;
};

struct lexer {
	const char *text;
	size_t pos;
	struct buf *err;
};

static bool is_word(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int lex_fail(struct lexer *lx, size_t col, const char *fmt, const char *what)
{
	buf_printf(lx->err, "invalid alarm expression at column %zu: ", col);
	buf_printf(lx->err, fmt, what);
	return -EINVAL;
}

static int lex_next(struct lexer *lx, struct tok *t)
{
	const char *s = lx->text;
	while (s[lx->pos] == ' ' || s[lx->pos] == '\t')
		lx->pos++;
	memset(t, 0, sizeof(*t));
	t->col = lx->pos + 1;
	t->start = s + lx->pos;
	char c = s[lx->pos];
	if (!c) {
		t->kind = T_END;
		return 0;
	}
	if (is_word(c)) {
		while (is_word(s[lx->pos]) || is_digit(s[lx->pos]))
			lx->pos++;
		t->kind = T_WORD;
	} else if (is_digit(c) || c == '.') {
		size_t digits = 0, i = lx->pos;
		while (is_digit(s[i]))
			i++, digits++;
		if (s[i] == '.') {
			i++;
			while (is_digit(s[i]))
				i++, digits++;
		}
		if (!digits || i - lx->pos > 24)
			return lex_fail(lx, t->col, "%s", "a number is malformed or too long");
		__do_free char *num = xstrndup(s + lx->pos, i - lx->pos);
		t->num = strtod(num, NULL);
		t->unit = s + i;
		while (is_word(s[i]) || s[i] == '%' || s[i] == '/')
			i++;
		t->unit_len = (size_t)(s + i - t->unit);
		lx->pos = i;
		t->kind = T_NUM;
	} else if (c == '>' || c == '<') {
		bool eq = s[lx->pos + 1] == '=';
		t->op = c == '>' ? (eq ? ALARM_GE : ALARM_GT) : (eq ? ALARM_LE : ALARM_LT);
		lx->pos += eq ? 2 : 1;
		t->kind = T_OP;
	} else {
		char shown[8];
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			snprintf(shown, sizeof(shown), "'%c'", c);
		else
			snprintf(shown, sizeof(shown), "0x%02x", (unsigned char)c);
		return lex_fail(lx, t->col, "unexpected character %s", shown);
	}
	t->len = (size_t)(s + lx->pos - t->start);
	return 0;
}

static bool tok_is(const struct tok *t, const char *word)
{
	return t->kind == T_WORD && t->len == strlen(word) && strncmp(t->start, word, t->len) == 0;
}

static bool unit_is(const struct tok *t, const char *u)
{
	return t->unit_len == strlen(u) && strncmp(t->unit, u, t->unit_len) == 0;
}

/* ---- the parser ---- */

/* Decimals kept of a threshold: six, fewer for large numbers, so that it
 * has at most 15 significant digits and prints back exactly (DBL_DIG). */
static int decimals(double v)
{
	int digits = v >= 1 ? (int)floor(log10(v)) + 1 : 1;
	int d = 15 - digits;
	return d < 0 ? 0 : d > 6 ? 6 : d;
}

static double quantize(double v)
{
	if (!isfinite(v))
		return v;
	double p = pow(10, decimals(v));
	return round(v * p) / p;
}

/* A size/rate suffix: K M G T with optional i, B; then "/s" when rate. */
static int parse_size_unit(struct lexer *lx, const struct tok *t, const struct alarm_metric *m, double *mult)
{
	const char *u = t->unit;
	size_t n = t->unit_len, i = 0;
	bool rate = strcmp(m->unit, "bytes/s") == 0;
	static const char scale[] = "KMGT";
	*mult = 1;
	if (i < n && u[i] && strchr(scale, u[i])) {
		for (const char *p = scale; *p != u[i]; p++)
			*mult *= 1024;
		*mult *= 1024;
		i++;
		if (i < n && u[i] == 'i')
			i++;
	}
	if (i < n && u[i] == 'B')
		i++;
	if (rate && n - i == 2 && u[i] == '/' && u[i + 1] == 's')
		i += 2;
	if (i != n) {
		__do_free char *shown = xstrndup(t->unit, t->unit_len > 16 ? 16 : t->unit_len);
		buf_printf(lx->err,
			   "invalid alarm expression at column %zu: unknown unit '%s' for %s (want %s)",
			   (size_t)(t->unit - lx->text) + 1, shown, m->name,
			   rate ? "K, M, G or T, optionally with /s: 50M/s" : "K, M, G or T: 1G");
		return -EINVAL;
	}
	return 0;
}

static int parse_duration(struct lexer *lx, const struct tok *t, int64_t *out)
{
	int64_t mult = 0;
	if (t->kind != T_NUM) {
		buf_printf(lx->err, "invalid alarm expression at column %zu: expected a duration after 'for' (30s, 5m, 1h)",
			   t->col);
		return -EINVAL;
	}
	if (unit_is(t, "s"))
		mult = 1;
	else if (unit_is(t, "m"))
		mult = 60;
	else if (unit_is(t, "h"))
		mult = 3600;
	if (!mult || t->num != floor(t->num) || t->num * (double)mult > ALARM_FOR_MAX_S) {
		buf_printf(lx->err,
			   "invalid alarm expression at column %zu: bad duration (want whole seconds, minutes or hours "
			   "such as 30s, 5m, 1h; at most 24h)",
			   t->col);
		return -EINVAL;
	}
	*out = (int64_t)t->num * mult;
	return 0;
}

static int parse_event(struct lexer *lx, const struct tok *first, struct alarm_expr *out)
{
	for (size_t k = 0; k < ARRAY_SIZE(events); k++) {
		if (!tok_is(first, events[k].words[0]))
			continue;
		struct tok t;
		int r;
		for (size_t w = 1; w < 3 && events[k].words[w]; w++) {
			if ((r = lex_next(lx, &t)) < 0)
				return r;
			if (!tok_is(&t, events[k].words[w])) {
				buf_printf(lx->err, "invalid alarm expression at column %zu: expected '%s' (the event '%s')",
					   t.col, events[k].words[w], alarm_event_name(events[k].ev));
				return -EINVAL;
			}
		}
		if ((r = lex_next(lx, &t)) < 0)
			return r;
		if (t.kind != T_END) {
			buf_printf(lx->err, "invalid alarm expression at column %zu: unexpected text after '%s'", t.col,
				   alarm_event_name(events[k].ev));
			return -EINVAL;
		}
		out->kind = ALARM_EVENT;
		out->event = events[k].ev;
		out->scope = events[k].scope;
		return 0;
	}
	return 1; /* not an event */
}

int alarm_expr_parse(const char *text, struct alarm_expr *out, struct buf *err)
{
	struct lexer lx = { text ? text : "", 0, err };
	struct alarm_expr e = { 0 };
	struct tok t, op, num;
	int r;

	if (!text || !*text || strlen(text) > ALARM_EXPR_MAX) {
		buf_printf(err, "invalid alarm expression: want 1 to %d characters such as 'cpu > 90%% for 5m'",
			   ALARM_EXPR_MAX);
		return -EINVAL;
	}
	if ((r = lex_next(&lx, &t)) < 0)
		return r;
	if (t.kind != T_WORD) {
		buf_printf(err, "invalid alarm expression at column %zu: expected a metric or an event", t.col);
		return -EINVAL;
	}
	if ((r = parse_event(&lx, &t, &e)) <= 0) {
		if (r == 0)
			*out = e;
		return r;
	}
	for (size_t i = 0; i < alarm_metrics_count; i++)
		if (tok_is(&t, alarm_metrics[i].name))
			e.metric = &alarm_metrics[i];
	if (!e.metric) {
		struct buf names = BUF_INIT;
		for (size_t i = 0; i < alarm_metrics_count; i++)
			buf_printf(&names, "%s%s", i ? ", " : "", alarm_metrics[i].name);
		buf_printf(err,
			   "invalid alarm expression at column %zu: unknown metric '%.*s' (metrics: %s; events: vm "
			   "crashed, backup failed, ha restarted, host lost quorum)",
			   t.col, (int)(t.len > 32 ? 32 : t.len), t.start, names.s);
		buf_release(&names);
		return -EINVAL;
	}
	e.kind = ALARM_THRESHOLD;
	e.scope = e.metric->scope;
	if ((r = lex_next(&lx, &op)) < 0)
		return r;
	if (op.kind != T_OP) {
		buf_printf(err, "invalid alarm expression at column %zu: expected >, >=, < or <= after '%s'", op.col,
			   e.metric->name);
		return -EINVAL;
	}
	e.op = op.op;
	if ((r = lex_next(&lx, &num)) < 0)
		return r;
	if (num.kind != T_NUM) {
		buf_printf(err, "invalid alarm expression at column %zu: expected a number", num.col);
		return -EINVAL;
	}
	e.threshold = num.num;
	if (unit_is(&num, "%")) {
		if (!e.metric->percent_ok) {
			buf_printf(err, "invalid alarm expression at column %zu: %s takes no percentage (its unit is %s)",
				   (size_t)(num.unit - lx.text) + 1, e.metric->name, e.metric->unit);
			return -EINVAL;
		}
		e.percent = strcmp(e.metric->unit, "%") != 0;
		if (e.percent && e.threshold > 100) {
			buf_printf(err, "invalid alarm expression at column %zu: a percentage of %s is at most 100",
				   num.col, e.metric->name);
			return -EINVAL;
		}
	} else if (strcmp(e.metric->unit, "%") == 0 || strcmp(e.metric->unit, "") == 0) {
		if (num.unit_len) {
			buf_printf(err, "invalid alarm expression at column %zu: %s takes a plain number%s",
				   (size_t)(num.unit - lx.text) + 1, e.metric->name,
				   *e.metric->unit ? " or a percentage" : "");
			return -EINVAL;
		}
	} else {
		double mult;
		if ((r = parse_size_unit(&lx, &num, e.metric, &mult)) < 0)
			return r;
		e.threshold *= mult;
	}
	e.threshold = quantize(e.threshold);
	if (!isfinite(e.threshold) || e.threshold > ALARM_VALUE_MAX) {
		buf_printf(err, "invalid alarm expression at column %zu: the number is too large", num.col);
		return -EINVAL;
	}
	if ((r = lex_next(&lx, &t)) < 0)
		return r;
	if (tok_is(&t, "for")) {
		if ((r = lex_next(&lx, &t)) < 0 || (r = parse_duration(&lx, &t, &e.for_s)) < 0)
			return r;
		if ((r = lex_next(&lx, &t)) < 0)
			return r;
	}
	if (t.kind != T_END) {
		buf_printf(err, "invalid alarm expression at column %zu: expected 'for DURATION' or the end", t.col);
		return -EINVAL;
	}
	*out = e;
	return 0;
}

/* A number without an exponent, its decimals (see decimals()), no trailing zeros. */
static void add_number(struct buf *b, double v)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%.*f", decimals(v), v);
	char *end = tmp + strlen(tmp);
	while (end > tmp && end[-1] == '0')
		*--end = '\0';
	if (end > tmp && end[-1] == '.')
		*--end = '\0';
	buf_adds(b, tmp);
}

static const char *op_text(enum alarm_op op)
{
	switch (op) {
	case ALARM_GT: return ">";
	case ALARM_GE: return ">=";
	case ALARM_LT: return "<";
	case ALARM_LE: return "<=";
	}
	return "?";
}

char *alarm_expr_format(const struct alarm_expr *e)
{
	struct buf b = BUF_INIT;
	if (e->kind == ALARM_EVENT)
		return xstrdup(alarm_event_name(e->event));
	buf_printf(&b, "%s %s ", e->metric->name, op_text(e->op));
	if (e->percent || strcmp(e->metric->unit, "%") == 0) {
		add_number(&b, e->threshold);
		buf_addch(&b, '%');
	} else if (strcmp(e->metric->unit, "") == 0) {
		add_number(&b, e->threshold);
	} else {
		static const char sfx[] = "KMGT";
		double v = e->threshold;
		int k = -1;
		while (k < 3 && v >= 1024 && fmod(v, 1024) == 0)
			v /= 1024, k++;
		add_number(&b, v);
		if (k >= 0)
			buf_addch(&b, sfx[k]);
		if (strcmp(e->metric->unit, "bytes/s") == 0)
			buf_adds(&b, "/s");
	}
	if (e->for_s) {
		if (e->for_s % 3600 == 0)
			buf_printf(&b, " for %lldh", (long long)(e->for_s / 3600));
		else if (e->for_s % 60 == 0)
			buf_printf(&b, " for %lldm", (long long)(e->for_s / 60));
		else
			buf_printf(&b, " for %llds", (long long)e->for_s);
	}
	return buf_detach(&b);
}

bool alarm_expr_holds(const struct alarm_expr *e, double v)
{
	if (isnan(v))
		return false;
	switch (e->op) {
	case ALARM_GT: return v > e->threshold;
	case ALARM_GE: return v >= e->threshold;
	case ALARM_LT: return v < e->threshold;
	case ALARM_LE: return v <= e->threshold;
	}
	return false;
}
