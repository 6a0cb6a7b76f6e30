/*
 * banned.h - functions corral code must not call (git's banned.h).
 *
 * Included last by every .c file through util/common.h.  Use snprintf,
 * buf_printf, strndup/strdup or explicit lengths instead.
 */
#ifndef CORRAL_UTIL_BANNED_H
#define CORRAL_UTIL_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)

#endif
