/*
 * store_snap.c - the snapshots table (see store.h, "Snapshots").
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/timeutil.h"
#include "util/common.h"
