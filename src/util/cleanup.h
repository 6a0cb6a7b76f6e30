/*
 * cleanup.h - scope-bound resource release (LXC memory_utils.h style).
 *
 * Declare a variable with one of the __do_* attributes and it is released when
 * it leaves scope.  Hand ownership on with move_ptr()/move_fd().  File
 * descriptors start as -EBADF; every release helper tolerates "nothing held".
 */
#ifndef CORRAL_UTIL_CLEANUP_H
#define CORRAL_UTIL_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <jansson.h>

static inline void cleanup_free(void *p) { free(*(void **)p); }
static inline void cleanup_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -EBADF;
}
static inline void cleanup_fclose(FILE **f)
{
	if (*f)
		fclose(*f);
	*f = NULL;
}
static inline void cleanup_json(json_t **j)
{
	json_decref(*j);
	*j = NULL;
}

#define __do_free __attribute__((cleanup(cleanup_free)))
#define __do_close __attribute__((cleanup(cleanup_close)))
#define __do_fclose __attribute__((cleanup(cleanup_fclose)))
#define __do_json __attribute__((cleanup(cleanup_json)))

/* Return *p and leave NULL behind, so the cleanup attribute does nothing. */
#define move_ptr(p)                          \
	({                                   \
		__typeof__(p) _moved_ = (p); \
		(p) = NULL;                  \
		_moved_;                     \
	})

#define move_fd(fd)                   \
	({                            \
		int _moved_fd_ = (fd); \
		(fd) = -EBADF;        \
		_moved_fd_;           \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
