/*
 * lxc_internal.h - what the files of src/lxc share: a liblxc container
 * object made for one call and put back when the variable goes out of
 * scope (__do_ct).  Not for use outside src/lxc.
 */
#ifndef CORRAL_LXC_INTERNAL_H
#define CORRAL_LXC_INTERNAL_H

#include <errno.h>
#include <lxc/lxccontainer.h>

#include "util/buf.h"

/* liblxc's object for <lxcpath>/<name> (it need not be defined), or NULL + err. */
struct lxc_container *ctrt_ct_get(const char *lxcpath, const char *name, struct buf *err);
void ctrt_ct_put(struct lxc_container **c);
#define __do_ct __attribute__((cleanup(ctrt_ct_put)))

#endif
