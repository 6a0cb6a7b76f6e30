/*
 * common.h - included by every corral .c file after its system headers:
 * cleanup helpers, then banned.h so forbidden calls fail to compile.
 */
#ifndef CORRAL_UTIL_COMMON_H
#define CORRAL_UTIL_COMMON_H

#include "cleanup.h"
#include "banned.h"

#endif
