/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The little JSON the line protocol needs: a strict parser for one request
 * line into a tree, and a writer for one reply or event line.
 */
#ifndef AL_JSON_H
#define AL_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	bool b;
	double num;
	char *str;           /* J_STR: NUL-terminated, no embedded NUL */
	char *key;           /* set when this value is an object member */
	struct jval *child;  /* first element or member */
	struct jval *next;   /* next sibling */
	size_t len;          /* elements or members */
};

/* Parses `text`; on failure returns NULL and a message in `err`. */
struct jval *json_parse(const char *text, char *err, size_t errlen);
void json_free(struct jval *v);

const struct jval *json_get(const struct jval *obj, const char *key);
/* Typed getters: false when missing or of another type (or not an integer in range). */
bool json_str(const struct jval *obj, const char *key, const char **out);
bool json_int(const struct jval *obj, const char *key, long long min, long long max, long long *out);
bool json_bool(const struct jval *obj, const char *key, bool *out);
bool json_as_int(const struct jval *v, long long min, long long max, long long *out);

/* Writer: builds one object per line. */
struct jw {
	char *buf;
	size_t len, cap;
	bool first;
	bool oom;
};

void jw_begin(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *val);
void jw_strn(struct jw *w, const char *key, const char *val, size_t n);
void jw_int(struct jw *w, const char *key, long long val);
void jw_bool(struct jw *w, const char *key, bool val);
void jw_null(struct jw *w, const char *key);
/* A nested object member: jw_open(w, "key") ... jw_close(w). */
void jw_open(struct jw *w, const char *key);
void jw_close(struct jw *w);
/* Writes the line to stdout (buffered: the caller flushes) and frees the buffer. */
void jw_end(struct jw *w);

#endif
