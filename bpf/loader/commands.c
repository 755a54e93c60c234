// SPDX-License-Identifier: Apache-2.0
#include "commands.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agents.h"
#include "events.h"
#include "json.h"
#include "opens.h"

/* how long remove-agent waits for the kernel audit records logged before it */
#define KAUDIT_BARRIER_MS 500

static struct kaudit *kaudit;
static struct ring_buffer *ring;

void commands_init(struct kaudit *k, struct ring_buffer *rb)
{
	kaudit = k;
	ring = rb;
}

static void reply_error(struct jw *w, const struct al_status *st)
{
	jw_bool(w, "ok", false);
	jw_str(w, "code", st->code ? st->code : ST_BAD_REQUEST);
	jw_str(w, "error", st->msg);
	jw_end(w);
}

static bool need_str(const struct jval *req, const char *key, const char **out,
		     struct al_status *st)
{
	if (json_str(req, key, out))
		return true;
	st_fail(st, ST_BAD_REQUEST, "\"%s\" must be a string", key);
	return false;
}

static void handle(const struct jval *req, struct jw *w)
{
	struct al_status st = {};
	const char *cmd, *id, *cgroup;
	long long pid;

	if (!need_str(req, "cmd", &cmd, &st))
		return reply_error(w, &st);
	if (strcmp(cmd, "ping") == 0) {
		jw_bool(w, "ok", true);
		jw_int(w, "agents", agents_count());
		jw_int(w, "tracked", agents_tracked_count());
		jw_int(w, "lost", (long long)events_lost_total());
		jw_bool(w, "openAudit", agents_open_audit());
		jw_str(w, "kaudit", kaudit_mode_name(kaudit->mode));
		return jw_end(w);
	}
	if (strcmp(cmd, "add-agent") == 0) {
		struct al_agent_rec *a;
		char cgid[24];

		if (!need_str(req, "id", &id, &st) || !need_str(req, "cgroup", &cgroup, &st) ||
		    agent_add(id, cgroup, json_get(req, "policy"), &a, &st))
			return reply_error(w, &st);
		jw_bool(w, "ok", true);
		jw_int(w, "agent", a->cfg.agent);
		/* 64 bits do not fit a JSON number exactly */
		snprintf(cgid, sizeof(cgid), "%" PRIu64, (uint64_t)a->cgroup_id);
		jw_str(w, "cgroupId", cgid);
		return jw_end(w);
	}
	if (strcmp(cmd, "update-policy") == 0) {
		if (!need_str(req, "id", &id, &st) || agent_update(id, json_get(req, "policy"), &st))
			return reply_error(w, &st);
	} else if (strcmp(cmd, "track-pid") == 0) {
		if (!need_str(req, "id", &id, &st))
			return reply_error(w, &st);
		if (!json_int(req, "pid", 1, 0x7fffffff, &pid)) {
			st_fail(&st, ST_BAD_REQUEST, "\"pid\" must be a positive integer");
			return reply_error(w, &st);
		}
		if (agent_track(id, (int)pid, &st))
			return reply_error(w, &st);
	} else if (strcmp(cmd, "remove-agent") == 0) {
		if (!need_str(req, "id", &id, &st))
			return reply_error(w, &st);
		/* the agent's last records go out before its number can be reused */
		events_drain(ring);
		opens_read(true);
		/* the kernel audit records of its last moments (Landlock, seccomp) too */
		kaudit_barrier(kaudit, KAUDIT_BARRIER_MS);
		if (agent_remove(id, &st))
			return reply_error(w, &st);
	} else {
		st_fail(&st, ST_UNKNOWN_CMD, "unknown command \"%s\"", cmd);
		return reply_error(w, &st);
	}
	jw_bool(w, "ok", true);
	jw_end(w);
}

void commands_handle(const char *line)
{
	char err[160];
	struct jval *req = json_parse(line, err, sizeof(err));
	long long seq;
	struct jw w;

	jw_begin(&w);
	if (!req || req->type != J_OBJ) {
		struct al_status st = { .code = ST_BAD_JSON };

		snprintf(st.msg, sizeof(st.msg), "%s", req ? "a request must be a JSON object" : err);
		jw_null(&w, "seq");
		reply_error(&w, &st);
		json_free(req);
		return;
	}
	/* a seq the client can match exactly: an integer JavaScript keeps whole */
	if (json_int(req, "seq", -(1LL << 53), 1LL << 53, &seq))
		jw_int(&w, "seq", seq);
	else
		jw_null(&w, "seq");
	handle(req, &w);
	json_free(req);
}

void commands_reject_long_line(void)
{
	struct al_status st = { .code = ST_LINE_TOO_LONG };
	struct jw w;

	snprintf(st.msg, sizeof(st.msg), "request line too long");
	jw_begin(&w);
	jw_null(&w, "seq");
	reply_error(&w, &st);
}
