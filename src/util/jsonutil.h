/*
 * jsonutil.h - strict reading of JSON objects (jansson) for API input.
 *
 * Every handler checks its body against the list of fields it knows; an
 * unknown field is an error, never silently ignored.  Getters distinguish
 * "absent" (keep the default) from "present with the wrong type" (error).
 * Errors are written to `err` as one human sentence naming the field.
 */
#ifndef CORRAL_UTIL_JSONUTIL_H
#define CORRAL_UTIL_JSONUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "buf.h"

/* 0 if obj is an object whose keys are all in the NULL-terminated `allowed`; else -1 + err. */
int json_check_keys(const json_t *obj, const char *what, const char *const *allowed, struct buf *err);

/* Each: 0 = absent (out untouched), 1 = read, -1 = wrong type/range (err set). */
int json_get_str(const json_t *obj, const char *key, const char **out, struct buf *err);
int json_get_bool(const json_t *obj, const char *key, bool *out, struct buf *err);
int json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out, struct buf *err);

/* Parse a request body: must be a JSON object (an empty body gives an empty object).
 * Returns a new reference or NULL + err. */
json_t *json_parse_object(const char *data, size_t len, struct buf *err);

/* true if the array arr (NULL or not an array: false) holds the string s. */
bool json_array_has_string(const json_t *arr, const char *s);

/* Serialise compactly (caller frees). */
char *json_to_string(const json_t *j);

#endif
