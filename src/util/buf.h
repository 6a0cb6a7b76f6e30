/*
 * buf.h - growable NUL-terminated byte buffer (git's strbuf).
 *
 * A struct buf is always valid after BUF_INIT: `s` points at a NUL-terminated
 * string (possibly the shared empty one), `len` excludes the NUL.  Appending
 * aborts on allocation failure (like every other corral allocation: an OOM
 * daemon cannot answer anyway).  buf_release frees and resets; buf_detach
 * hands the heap string to the caller, who must free() it.
 */
#ifndef CORRAL_UTIL_BUF_H
#define CORRAL_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *s;
	size_t len;
	size_t alloc;
};

extern char buf_empty[];
#define BUF_INIT { .s = buf_empty, .len = 0, .alloc = 0 }

void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
/* Append s[0..len) with control characters and DEL shown as '?' (text from other programs). */
void buf_add_printable(struct buf *b, const char *s, size_t len);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);
void buf_release(struct buf *b);
char *buf_detach(struct buf *b);

static inline void cleanup_buf(struct buf *b) { buf_release(b); }
#define __do_buf __attribute__((cleanup(cleanup_buf)))

/* Abort-on-failure allocation helpers. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
