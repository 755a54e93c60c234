// SPDX-License-Identifier: Apache-2.0
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

struct parser {
	const char *p;
	const char *msg; /* the first failure */
	const char *at;
};

static void fail(struct parser *ps, const char *msg)
{
	if (!ps->msg) {
		ps->msg = msg;
		ps->at = ps->p;
	}
}

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n')
		ps->p++;
}

static struct jval *new_val(struct parser *ps, enum jtype t)
{
	struct jval *v = calloc(1, sizeof(*v));

	if (!v)
		fail(ps, "out of memory");
	else
		v->type = t;
	return v;
}

static int hex4(const char *s)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Appends code point `cp` as UTF-8. */
static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | (cp >> 6);
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | (cp >> 12);
		o[1] = 0x80 | ((cp >> 6) & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | (cp >> 18);
	o[1] = 0x80 | ((cp >> 12) & 0x3f);
	o[2] = 0x80 | ((cp >> 6) & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

static char *parse_string(struct parser *ps)
{
	const char *s = ++ps->p; /* after the quote */
	size_t cap = 0;
	char *out, *o;

	/* an escape never produces more bytes than it takes */
	while (s[cap] && s[cap] != '"') {
		if (s[cap] == '\\' && s[cap + 1])
			cap++;
		cap++;
	}
	out = o = malloc(cap + 1);
	if (!out) {
		fail(ps, "out of memory");
		return NULL;
	}
	for (;;) {
		unsigned char c = *ps->p;

		if (c == '"') {
			ps->p++;
			break;
		}
		if (c == 0) {
			fail(ps, "unterminated string");
			goto bad;
		}
		if (c < 0x20) {
			fail(ps, "control character in string");
			goto bad;
		}
		if (c != '\\') {
			*o++ = c;
			ps->p++;
			continue;
		}
		ps->p++;
		switch (*ps->p) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			int cp = hex4(ps->p + 1);

			if (cp <= 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
				/* NUL and surrogates have no place in ids and paths */
				fail(ps, "unsupported \\u escape");
				goto bad;
			}
			o += put_utf8(o, cp);
			ps->p += 4;
			break;
		}
		default:
			fail(ps, "bad escape");
			goto bad;
		}
		ps->p++;
	}
	*o = 0;
	return out;
bad:
	free(out);
	return NULL;
}

static struct jval *parse_value(struct parser *ps, int depth);

static struct jval *parse_container(struct parser *ps, int depth, bool obj)
{
	struct jval *v = new_val(ps, obj ? J_OBJ : J_ARR), **tail;
	char close = obj ? '}' : ']';

	if (!v)
		return NULL;
	tail = &v->child;
	ps->p++;
	skip_ws(ps);
	if (*ps->p == close) {
		ps->p++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		struct jval *item;

		skip_ws(ps);
		if (obj) {
			if (*ps->p != '"') {
				fail(ps, "expected a member name");
				break;
			}
			key = parse_string(ps);
			if (!key)
				break;
			skip_ws(ps);
			if (*ps->p != ':') {
				free(key);
				fail(ps, "expected ':'");
				break;
			}
			ps->p++;
		}
		item = parse_value(ps, depth + 1);
		if (!item) {
			free(key);
			break;
		}
		item->key = key;
		*tail = item;
		tail = &item->next;
		v->len++;
		skip_ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			return v;
		}
		fail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		break;
	}
	json_free(v);
	return NULL;
}

static struct jval *parse_value(struct parser *ps, int depth)
{
	struct jval *v;

	if (depth > MAX_DEPTH) {
		fail(ps, "nested too deep");
		return NULL;
	}
	skip_ws(ps);
	switch (*ps->p) {
	case '{':
		return parse_container(ps, depth, true);
	case '[':
		return parse_container(ps, depth, false);
	case '"': {
		char *s = parse_string(ps);

		if (!s)
			return NULL;
		v = new_val(ps, J_STR);
		if (!v) {
			free(s);
			return NULL;
		}
		v->str = s;
		return v;
	}
	case 't':
	case 'f':
	case 'n': {
		const char *word = *ps->p == 't' ? "true" : *ps->p == 'f' ? "false" : "null";
		size_t n = strlen(word);

		if (strncmp(ps->p, word, n) != 0) {
			fail(ps, "unexpected word");
			return NULL;
		}
		ps->p += n;
		v = new_val(ps, *word == 'n' ? J_NULL : J_BOOL);
		if (v)
			v->b = *word == 't';
		return v;
	}
	default: {
		char *end;
		double d;

		if (*ps->p != '-' && (*ps->p < '0' || *ps->p > '9')) {
			fail(ps, "unexpected character");
			return NULL;
		}
		d = strtod(ps->p, &end);
		if (end == ps->p || !isfinite(d)) {
			fail(ps, "bad number");
			return NULL;
		}
		ps->p = end;
		v = new_val(ps, J_NUM);
		if (v)
			v->num = d;
		return v;
	}
	}
}

struct jval *json_parse(const char *text, char *err, size_t errlen)
{
	struct parser ps = { .p = text };
	struct jval *v = parse_value(&ps, 0);

	if (v) {
		skip_ws(&ps);
		if (*ps.p) {
			fail(&ps, "trailing characters");
			json_free(v);
			v = NULL;
		}
	}
	if (!v)
		snprintf(err, errlen, "%s at offset %ld", ps.msg ? ps.msg : "invalid JSON",
			 (long)((ps.at ? ps.at : ps.p) - text));
	return v;
}

void json_free(struct jval *v)
{
	while (v) {
		struct jval *next = v->next;

		json_free(v->child);
		free(v->str);
		free(v->key);
		free(v);
		v = next;
	}
}

const struct jval *json_get(const struct jval *obj, const char *key)
{
	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (const struct jval *m = obj->child; m; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

bool json_str(const struct jval *obj, const char *key, const char **out)
{
	const struct jval *v = json_get(obj, key);

	if (!v || v->type != J_STR)
		return false;
	*out = v->str;
	return true;
}

bool json_as_int(const struct jval *v, long long min, long long max, long long *out)
{
	if (!v || v->type != J_NUM || v->num != floor(v->num) || v->num < (double)min ||
	    v->num > (double)max)
		return false;
	*out = (long long)v->num;
	return true;
}

bool json_int(const struct jval *obj, const char *key, long long min, long long max, long long *out)
{
	return json_as_int(json_get(obj, key), min, max, out);
}

bool json_bool(const struct jval *obj, const char *key, bool *out)
{
	const struct jval *v = json_get(obj, key);

	if (!v || v->type != J_BOOL)
		return false;
	*out = v->b;
	return true;
}

static void put(struct jw *w, const char *s, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n + 2 > w->cap) {
		size_t cap = (w->cap ? w->cap * 2 : 256) + n;
		char *b = realloc(w->buf, cap);

		if (!b) {
			w->oom = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void put_escaped(struct jw *w, const char *s, size_t n)
{
	put(w, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = c;
			put(w, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
		} else {
			put(w, (const char *)&c, 1);
		}
	}
	put(w, "\"", 1);
}

static void put_key(struct jw *w, const char *key)
{
	if (!w->first)
		put(w, ",", 1);
	w->first = false;
	put_escaped(w, key, strlen(key));
	put(w, ":", 1);
}

void jw_begin(struct jw *w)
{
	memset(w, 0, sizeof(*w));
	w->first = true;
	put(w, "{", 1);
}

void jw_strn(struct jw *w, const char *key, const char *val, size_t n)
{
	put_key(w, key);
	put_escaped(w, val, n);
}

void jw_str(struct jw *w, const char *key, const char *val)
{
	jw_strn(w, key, val, strlen(val));
}

void jw_int(struct jw *w, const char *key, long long val)
{
	char num[32];

	put_key(w, key);
	put(w, num, snprintf(num, sizeof(num), "%lld", val));
}

void jw_bool(struct jw *w, const char *key, bool val)
{
	put_key(w, key);
	put(w, val ? "true" : "false", val ? 4 : 5);
}

void jw_null(struct jw *w, const char *key)
{
	put_key(w, key);
	put(w, "null", 4);
}

void jw_open(struct jw *w, const char *key)
{
	put_key(w, key);
	put(w, "{", 1);
	w->first = true;
}

void jw_close(struct jw *w)
{
	put(w, "}", 1);
	w->first = false;
}

void jw_end(struct jw *w)
{
	put(w, "}\n", 2);
	if (!w->oom)
		fwrite(w->buf, 1, w->len, stdout); /* the event loop flushes once per turn */
	free(w->buf);
	w->buf = NULL;
}
