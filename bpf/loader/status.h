/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A request's failure: a stable code (part of the line protocol, mirrored by
 * services/enforcer/bpf/client.ts) and a message.
 */
#ifndef AL_STATUS_H
#define AL_STATUS_H

#include <stdarg.h>
#include <stdio.h>

struct al_status {
	const char *code;
	char msg[512];
};

/* Codes of the line protocol. */
#define ST_BAD_JSON "BAD_JSON"             /* the line is not JSON */
#define ST_BAD_REQUEST "BAD_REQUEST"       /* a field is missing or out of range */
#define ST_UNKNOWN_CMD "UNKNOWN_COMMAND"
#define ST_AGENT_EXISTS "AGENT_EXISTS"     /* the id or the cgroup is registered */
#define ST_AGENT_NOT_FOUND "AGENT_NOT_FOUND"
#define ST_TOO_MANY "TOO_MANY_AGENTS"
#define ST_TOO_LARGE "POLICY_TOO_LARGE"    /* the tables do not fit the maps */
#define ST_CGROUP "CGROUP"                 /* the cgroup directory is unusable */
#define ST_ATTACH "ATTACH"                 /* attaching a program failed */
#define ST_PID "PID"                       /* no such process */
#define ST_KERNEL "KERNEL"                 /* a map operation failed */
#define ST_LINE_TOO_LONG "LINE_TOO_LONG"

__attribute__((format(printf, 3, 4))) static inline int
st_fail(struct al_status *st, const char *code, const char *fmt, ...)
{
	va_list ap;

	st->code = code;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
	return -1;
}

#endif
