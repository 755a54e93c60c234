/*
 * Launch spec parser. Line format, one directive a line, fields separated by
 * one space; strings are percent-encoded (every byte outside 0x21..0x7e, and
 * '%' itself, as %XX), numbers are decimal, seccomp programs are hex bytes of
 * struct sock_filter. The first line is "airlock-launch-spec 1", the last
 * "end" (so a truncated spec is refused). See README.md for the directives.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/seccomp.h>

#include "common.h"
#include "spec.h"

#define SPEC_MAX_BYTES (64u << 20)

static int line_no;

#define bad(...) fail(EXIT_SPEC, "spec", __VA_ARGS__)

static void *grow(void *array, size_t count, size_t size)
{
	void *p = reallocarray(array, count + 1, size);
	if (!p)
		bad("out of memory");
	return p;
}

#define PUSH(array, count, value)                                          \
	do {                                                               \
		(array) = grow((array), (count), sizeof(*(array)));        \
		(array)[(count)++] = (value);                              \
	} while (0)

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes in place; refuses NUL bytes and malformed escapes. */
static char *decode(char *text)
{
	char *out = text;
	for (char *in = text; *in; in++) {
		if (*in != '%') {
			*out++ = *in;
			continue;
		}
		int hi = hexval(in[1]), lo = hi < 0 ? -1 : hexval(in[2]);
		if (hi < 0 || lo < 0)
			bad("line %d: bad %%-escape", line_no);
		if (hi == 0 && lo == 0)
			bad("line %d: NUL byte in a string", line_no);
		*out++ = (char)(hi << 4 | lo);
		in += 2;
	}
	*out = '\0';
	return text;
}

static uint64_t number(const char *text, uint64_t max)
{
	char *end;
	if (!*text || *text == '-' || *text == '+')
		bad("line %d: \"%s\" is not a number", line_no, text);
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end || v > max)
		bad("line %d: \"%s\" is not a number up to %llu", line_no, text, (unsigned long long)max);
	return v;
}

/* Splits off the first space-separated field of *rest. */
static char *field(char **rest)
{
	char *start = *rest;
	if (!start)
		bad("line %d: missing field", line_no);
	char *space = strchr(start, ' ');
	if (space) {
		*space = '\0';
		*rest = space + 1;
	} else {
		*rest = NULL;
	}
	if (!*start)
		bad("line %d: empty field", line_no);
	return start;
}

static void last(char *rest)
{
	if (rest)
		bad("line %d: unexpected trailing field", line_no);
}

static struct seccomp_prog program(char *flags, char *hex)
{
	struct seccomp_prog p = {.flags = (unsigned int)number(flags, UINT_MAX)};
	size_t n = strlen(hex);
	if (n == 0 || n % (2 * sizeof(struct sock_filter)))
		bad("line %d: seccomp program is not whole struct sock_filter records", line_no);
	size_t insns = n / (2 * sizeof(struct sock_filter));
	if (insns > 4096)
		bad("line %d: seccomp program longer than 4096 instructions", line_no);
	unsigned char *bytes = malloc(n / 2);
	if (!bytes)
		bad("out of memory");
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			bad("line %d: seccomp program is not hex", line_no);
		bytes[i] = (unsigned char)(hi << 4 | lo);
	}
	p.insns = (struct sock_filter *)bytes; /* little-endian host, same layout */
	p.len = (unsigned short)insns;
	return p;
}

static char *slurp(int fd, size_t *size)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			bad("out of memory");
		if (len + 1 == cap) {
			if (cap >= SPEC_MAX_BYTES)
				bad("spec larger than %u bytes", SPEC_MAX_BYTES);
			buf = realloc(buf, cap *= 2);
			continue;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			bad("reading the spec: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len))
		bad("NUL byte in the spec");
	*size = len;
	return buf;
}

void spec_read(int fd, struct launch_spec *spec)
{
	size_t size;
	char *text = slurp(fd, &size);
	int seen_uid = 0, seen_gid = 0, seen_end = 0, seen_abi = 0, seen_rest = 0, seen_violation = 0;
	memset(spec, 0, sizeof(*spec));

	char *save = NULL;
	line_no = 0;
	for (char *line = text; line < text + size; line = save) {
		char *nl = strchr(line, '\n');
		if (!nl)
			bad("line %d: not terminated", line_no + 1);
		*nl = '\0';
		save = nl + 1;
		line_no++;
		if (seen_end)
			bad("line %d: text after \"end\"", line_no);
		char *rest = line;
		char *word = field(&rest);
		if (line_no == 1) {
			if (strcmp(word, "airlock-launch-spec") || !rest || strcmp(rest, "1"))
				bad("line 1: expected \"airlock-launch-spec 1\"");
			continue;
		}
		if (!strcmp(word, "uid")) {
			spec->uid = (uid_t)number(field(&rest), 0xfffffffe), seen_uid = 1;
		} else if (!strcmp(word, "gid")) {
			spec->gid = (gid_t)number(field(&rest), 0xfffffffe), seen_gid = 1;
		} else if (!strcmp(word, "uid-pool")) {
			spec->pool.first = (uid_t)number(field(&rest), 0xfffffffe);
			spec->pool.count = (uint32_t)number(field(&rest), 0xfffffffe);
			spec->pool.dir = decode(field(&rest));
			if (!spec->pool.count || spec->pool.first == 0 || spec->pool.first - 1 > 0xfffffffeu - spec->pool.count)
				bad("line %d: the uid pool must lie within 1..4294967294", line_no);
		} else if (!strcmp(word, "resting-owner")) {
			spec->rest_uid = (uid_t)number(field(&rest), 0xfffffffe);
			spec->rest_gid = (gid_t)number(field(&rest), 0xfffffffe);
			seen_rest = 1;
		} else if (!strcmp(word, "own")) {
			PUSH(spec->own, spec->n_own, decode(field(&rest)));
		} else if (!strcmp(word, "disown")) {
			PUSH(spec->disown, spec->n_disown, decode(field(&rest)));
		} else if (!strcmp(word, "writable")) {
			PUSH(spec->writable, spec->n_writable, decode(field(&rest)));
		} else if (!strcmp(word, "on-violation")) {
			char *mode = field(&rest);
			if (strcmp(mode, "kill") && strcmp(mode, "deny"))
				bad("line %d: on-violation is kill or deny", line_no);
			spec->kill_on_violation = !strcmp(mode, "kill");
			seen_violation = 1;
		} else if (!strcmp(word, "cgroup")) {
			PUSH(spec->cgroups, spec->n_cgroups, decode(field(&rest)));
		} else if (!strcmp(word, "private-tmp")) {
			spec->private_tmp = decode(field(&rest));
		} else if (!strcmp(word, "mask")) {
			PUSH(spec->masks, spec->n_masks, decode(field(&rest)));
		} else if (!strcmp(word, "landlock-abi")) {
			spec->landlock_abi = (int)number(field(&rest), INT_MAX), seen_abi = 1;
		} else if (!strcmp(word, "landlock-fs")) {
			spec->landlock_fs = number(field(&rest), UINT64_MAX);
		} else if (!strcmp(word, "landlock-net")) {
			spec->landlock_net = number(field(&rest), UINT64_MAX);
		} else if (!strcmp(word, "landlock-scope")) {
			spec->landlock_scope = number(field(&rest), UINT64_MAX);
		} else if (!strcmp(word, "landlock-flags")) {
			spec->landlock_flags = (uint32_t)number(field(&rest), UINT32_MAX);
		} else if (!strcmp(word, "path")) {
			struct path_rule r = {.access = number(field(&rest), UINT64_MAX)};
			r.path = decode(field(&rest));
			PUSH(spec->paths, spec->n_paths, r);
		} else if (!strcmp(word, "port")) {
			struct port_rule r = {.access = number(field(&rest), UINT64_MAX)};
			r.port = number(field(&rest), 65535);
			PUSH(spec->ports, spec->n_ports, r);
		} else if (!strcmp(word, "protect")) {
			PUSH(spec->protect, spec->n_protect, decode(field(&rest)));
		} else if (!strcmp(word, "seccomp")) {
			char *flags = field(&rest);
			PUSH(spec->filters, spec->n_filters, program(flags, field(&rest)));
			if (spec->filters[spec->n_filters - 1].flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
				if (spec->notify)
					bad("line %d: a second seccomp filter with a listener", line_no);
				spec->notify = 1;
			}
		} else if (!strcmp(word, "exec-gate")) {
			spec->exec_gate = (uintptr_t)number(field(&rest), 4095);
			if (!spec->exec_gate)
				bad("line %d: exec-gate must not be 0 (NULL)", line_no);
		} else if (!strcmp(word, "workspace")) {
			spec->workspace = decode(field(&rest));
		} else if (!strcmp(word, "program")) {
			spec->program = decode(field(&rest));
		} else if (!strcmp(word, "arg")) {
			/* The whole rest of the line, which may be empty (an empty argument). */
			PUSH(spec->argv, spec->argc, rest ? decode(rest) : "");
			rest = NULL;
		} else if (!strcmp(word, "env")) {
			PUSH(spec->envp, spec->envc, decode(field(&rest)));
		} else if (!strcmp(word, "end")) {
			seen_end = 1;
		} else {
			bad("line %d: unknown directive \"%s\"", line_no, word);
		}
		last(rest);
	}
	if (!seen_end)
		bad("no \"end\" line: the spec was cut short");
	if (spec->pool.count ? seen_uid || seen_gid : !seen_uid || !seen_gid)
		bad("uid and gid, or a uid pool, are required (not both)");
	if (!spec->pool.count && (spec->uid == 0 || spec->gid == 0))
		bad("the agent never runs as uid or gid 0");
	if (spec->pool.count && spec->pool.dir[0] != '/')
		bad("the uid pool's folder must be an absolute path");
	if ((spec->n_own || spec->n_disown) && (!spec->pool.count || !seen_rest))
		bad("own and disown paths need a uid pool and a resting owner");
	if (seen_rest && (spec->rest_uid == 0 || spec->rest_gid == 0))
		bad("the resting owner is never uid or gid 0");
	if (spec->notify && !seen_violation)
		bad("a seccomp filter with a listener needs on-violation");
	if (!seen_abi || !spec->landlock_fs)
		bad("the Landlock ruleset is required");
	if (!spec->n_filters)
		bad("at least one seccomp filter is required");
	if (!spec->workspace || !spec->program || !spec->argc)
		bad("workspace, program and at least one arg are required");
	if (spec->workspace[0] != '/' || spec->program[0] != '/')
		bad("workspace and program must be absolute paths");
	char **absolute[] = {spec->masks, spec->own, spec->disown, spec->writable};
	size_t counts[] = {spec->n_masks, spec->n_own, spec->n_disown, spec->n_writable};
	const char *kinds[] = {"mask", "own", "disown", "writable"};
	for (size_t k = 0; k < 4; k++) {
		for (size_t i = 0; i < counts[k]; i++) {
			if (absolute[k][i][0] != '/')
				bad("%s %s is not an absolute path", kinds[k], absolute[k][i]);
		}
	}
	PUSH(spec->argv, spec->argc, NULL);
	spec->argc--;
	PUSH(spec->envp, spec->envc, NULL);
	spec->envc--;
}
