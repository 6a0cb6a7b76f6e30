/*
 * jsonutil.c - see jsonutil.h.
 */
#include <string.h>

#include "jsonutil.h"
#include "common.h"

int json_check_keys(const json_t *obj, const char *what, const char *const *allowed, struct buf *err)
{
	const char *key;
	json_t *val;

	if (!json_is_object(obj)) {
		buf_printf(err, "%s must be a JSON object", what);
		return -1;
	}
	json_object_foreach((json_t *)obj, key, val) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				ok = true;
		if (!ok) {
			buf_printf(err, "unknown field '%.64s' in %s", key, what);
			return -1;
		}
	}
	return 0;
}

int json_get_str(const json_t *obj, const char *key, const char **out, struct buf *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_string(v)) {
		buf_printf(err, "field '%s' must be a string", key);
		return -1;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		buf_printf(err, "field '%s' contains a NUL character", key);
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

int json_get_bool(const json_t *obj, const char *key, bool *out, struct buf *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		buf_printf(err, "field '%s' must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 1;
}

int json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out, struct buf *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_integer(v)) {
		buf_printf(err, "field '%s' must be an integer", key);
		return -1;
	}
	json_int_t i = json_integer_value(v);
	if (i < min || i > max) {
		buf_printf(err, "field '%s' must be between %lld and %lld (got %lld)", key,
			   (long long)min, (long long)max, (long long)i);
		return -1;
	}
	*out = i;
	return 1;
}

json_t *json_parse_object(const char *data, size_t len, struct buf *err)
{
	json_error_t je;
	json_t *j;

	if (len == 0)
		return json_object();
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		buf_printf(err, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		buf_adds(err, "request body must be a JSON object");
		return NULL;
	}
	return j;
}

char *json_to_string(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		return xstrdup("null");
	return s;
}

bool json_array_has_string(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (s && json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}
