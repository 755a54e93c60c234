// SPDX-License-Identifier: Apache-2.0
#include "events.h"

#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "agents.h"
#include "airlock_events.h"
#include "airlock_maps.h"
#include "json.h"

static unsigned long long lost_total, lost_elsewhere;

static size_t base64(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = 0;
	return o;
}

static void act(const struct al_hdr *h, const void *data, size_t size)
{
	const struct al_task *t = (const struct al_task *)(h + 1);
	struct al_agent_rec *a;
	const char *reason;
	bool denied;

	if (size < sizeof(*h) + sizeof(*t))
		return;
	if (h->op == AL_OP_EXIT) {
		agents_note_exit(t->pid, h->agent, t->comm);
		return;
	}
	if (h->op == AL_OP_CONNECT && size >= sizeof(struct al_connect_event)) {
		denied = ((const struct al_connect_event *)data)->verdict == AL_DENY;
		reason = "connect";
	} else if (h->op == AL_OP_SOCKET && size >= sizeof(struct al_socket_event)) {
		denied = ((const struct al_socket_event *)data)->verdict == AL_DENY;
		reason = "socket";
	} else if (h->op == AL_OP_UNIX && size >= sizeof(struct al_unix_event)) {
		denied = ((const struct al_unix_event *)data)->verdict == AL_DENY;
		reason = "unix";
	} else {
		return;
	}
	a = agent_by_no(h->agent);
	if (denied && a && (a->cfg.flags & AL_AGENT_KILL))
		agent_kill(a, reason, t->pid, h->time_ns, t->flags & AL_F_KILLED);
}

void events_forward(const void *data, size_t size)
{
	const struct al_hdr *h = data;
	char *b64;
	struct jw w;

	/* the part in use (exec and open records end after their string) */
	if (h->size >= sizeof(*h) && h->size < size)
		size = h->size;
	b64 = malloc((size + 2) / 3 * 4 + 1);
	if (b64) {
		base64(data, size, b64);
		jw_begin(&w);
		jw_str(&w, "event", "bpf");
		jw_str(&w, "data", b64);
		jw_end(&w);
		free(b64);
	}
}

static int on_record(void *ctx, void *data, size_t size)
{
	if (size < sizeof(struct al_hdr))
		return 0;
	/* act first: a full stdout pipe must not delay a kill */
	act(data, data, size);
	events_forward(data, size);
	return 0;
}

struct ring_buffer *events_open(const struct al_bpf *b)
{
	return ring_buffer__new(b->events_fd, on_record, NULL, NULL);
}

int events_drain(struct ring_buffer *rb)
{
	return ring_buffer__consume(rb);
}

void events_add_lost(unsigned long long n)
{
	lost_elsewhere += n;
}

unsigned long long events_lost_total(void)
{
	return lost_total;
}

void events_check_lost(const struct al_bpf *b)
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long sum = 0, *vals;
	__u32 key = AL_STAT_LOST;
	struct jw w;

	if (ncpu < 1)
		return;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return;
	if (!bpf_map_lookup_elem(b->stats_fd, &key, vals))
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	sum += lost_elsewhere;
	if (sum <= lost_total)
		return;
	jw_begin(&w);
	jw_str(&w, "event", "lost");
	jw_int(&w, "count", sum - lost_total);
	jw_int(&w, "total", sum);
	jw_end(&w);
	lost_total = sum;
}
