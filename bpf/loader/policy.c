// SPDX-License-Identifier: Apache-2.0
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "airlock_events.h"

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

static bool host_bits_clear(const __u8 *addr, int bytes, int prefix)
{
	for (int bit = prefix; bit < bytes * 8; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

/* One rule: [verdict, proto, port_lo, port_hi, rule_id] */
static int parse_rule(const struct jval *r, struct al_rule *out, struct al_status *st)
{
	long long f[5];
	const struct jval *v;
	int i = 0;

	if (!r || r->type != J_ARR || r->len != 5)
		return st_fail(st, ST_BAD_REQUEST, "a rule is [verdict, proto, portLo, portHi, ruleId]");
	for (v = r->child; v; v = v->next, i++)
		if (!json_as_int(v, 0, 65535, &f[i]))
			return st_fail(st, ST_BAD_REQUEST, "rule field %d is not an integer 0-65535", i);
	if (f[0] != AL_ALLOW && f[0] != AL_DENY)
		return st_fail(st, ST_BAD_REQUEST, "rule verdict must be 0 (allow) or 1 (deny)");
	if (f[1] != 0 && f[1] != IPPROTO_TCP_ && f[1] != IPPROTO_UDP_)
		return st_fail(st, ST_BAD_REQUEST, "rule protocol must be 0 (any), 6 (tcp) or 17 (udp)");
	if (f[2] > f[3])
		return st_fail(st, ST_BAD_REQUEST, "rule port range %lld-%lld is empty", f[2], f[3]);
	out->verdict = f[0];
	out->proto = f[1];
	out->port_lo = f[2];
	out->port_hi = f[3];
	out->rule = f[4];
	return 0;
}

/* One prefix: {"address", "prefix", "rules": [...]}; fills key address/prefix and rules. */
static int parse_prefix(const struct jval *e, int af, __u8 *addr, __u32 *prefixlen,
			struct al_rules *rules, struct al_status *st)
{
	const int bytes = af == AF_INET ? 4 : 16;
	const char *text;
	const struct jval *list, *r;
	long long prefix;
	int i = 0;

	if (!json_str(e, "address", &text) || inet_pton(af, text, addr) != 1)
		return st_fail(st, ST_BAD_REQUEST, "a %s table entry needs an IPv%d \"address\"",
			       af == AF_INET ? "v4" : "v6", af == AF_INET ? 4 : 6);
	if (!json_int(e, "prefix", 0, bytes * 8, &prefix))
		return st_fail(st, ST_BAD_REQUEST, "%s: \"prefix\" must be 0-%d", text, bytes * 8);
	if (!host_bits_clear(addr, bytes, prefix))
		return st_fail(st, ST_BAD_REQUEST, "%s/%lld has host bits set", text, prefix);
	list = json_get(e, "rules");
	if (!list || list->type != J_ARR)
		return st_fail(st, ST_BAD_REQUEST, "%s/%lld: \"rules\" must be an array", text, prefix);
	if (list->len > AL_MAX_RULES)
		return st_fail(st, ST_TOO_LARGE, "%s/%lld has %zu rule entries, at most %d fit",
			       text, prefix, list->len, AL_MAX_RULES);
	memset(rules, 0, sizeof(*rules));
	for (r = list->child; r; r = r->next, i++)
		if (parse_rule(r, &rules->e[i], st))
			return -1;
	rules->count = i;
	*prefixlen = 32 + prefix;
	return 0;
}

static int parse_table(const struct jval *p, const char *name, int af, void **out, size_t *n,
		       struct al_status *st)
{
	const struct jval *t = json_get(p, name), *e;
	const size_t size = af == AF_INET ? sizeof(struct al_entry4) : sizeof(struct al_entry6);
	char *entries;
	size_t i = 0;

	*out = NULL;
	*n = 0;
	if (!t)
		return 0;
	if (t->type != J_ARR)
		return st_fail(st, ST_BAD_REQUEST, "\"%s\" must be an array", name);
	if (t->len > AL_LPM_MAX)
		return st_fail(st, ST_TOO_LARGE, "\"%s\" has %zu prefixes, at most %d fit", name,
			       t->len, AL_LPM_MAX);
	entries = calloc(t->len ? t->len : 1, size);
	if (!entries)
		return st_fail(st, ST_KERNEL, "out of memory");
	for (e = t->child; e; e = e->next, i++) {
		int err;

		if (af == AF_INET) {
			struct al_entry4 *x = (struct al_entry4 *)entries + i;
			err = parse_prefix(e, af, x->key.addr, &x->key.prefixlen, &x->rules, st);
		} else {
			struct al_entry6 *x = (struct al_entry6 *)entries + i;
			err = parse_prefix(e, af, x->key.addr, &x->key.prefixlen, &x->rules, st);
		}
		if (err) {
			free(entries);
			return -1;
		}
	}
	*out = entries;
	*n = i;
	return 0;
}

static int parse_resolver(const struct jval *p, struct al_policy *out, struct al_status *st)
{
	const struct jval *r = json_get(p, "resolver");
	const char *text;
	long long port;
	__u8 v4[4];

	if (!r || r->type == J_NULL)
		return 0;
	if (!json_str(r, "address", &text) || !json_int(r, "port", 1, 65535, &port))
		return st_fail(st, ST_BAD_REQUEST, "\"resolver\" needs an \"address\" and a \"port\" 1-65535");
	if (inet_pton(AF_INET, text, v4) == 1) {
		memset(out->resolver, 0, 10);
		out->resolver[10] = out->resolver[11] = 0xff;
		memcpy(out->resolver + 12, v4, 4);
	} else if (inet_pton(AF_INET6, text, out->resolver) != 1) {
		return st_fail(st, ST_BAD_REQUEST, "resolver address \"%s\" is not an IP address", text);
	}
	out->resolver_port = port;
	out->flags |= AL_AGENT_RESOLVER;
	return 0;
}

int policy_parse(const struct jval *p, struct al_policy *out, struct al_status *st)
{
	static const struct { const char *name; __u32 flag; } bools[] = {
		{ "kill", AL_AGENT_KILL },   { "auditAllows", AL_AGENT_AUDIT_ALLOWS },
		{ "tcp", AL_AGENT_TCP },     { "udp", AL_AGENT_UDP },
	};

	memset(out, 0, sizeof(*out));
	if (!p || p->type != J_OBJ)
		return st_fail(st, ST_BAD_REQUEST, "\"policy\" must be an object");
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		bool on;

		if (!json_bool(p, bools[i].name, &on))
			return st_fail(st, ST_BAD_REQUEST, "policy.%s must be true or false",
				       bools[i].name);
		if (on)
			out->flags |= bools[i].flag;
	}
	if (parse_resolver(p, out, st) ||
	    parse_table(p, "v4", AF_INET, (void **)&out->v4, &out->n4, st))
		return -1;
	if (parse_table(p, "v6", AF_INET6, (void **)&out->v6, &out->n6, st)) {
		policy_free(out);
		return -1;
	}
	return 0;
}

void policy_free(struct al_policy *p)
{
	free(p->v4);
	free(p->v6);
	p->v4 = NULL;
	p->v6 = NULL;
	p->n4 = p->n6 = 0;
}

void policy_uninstall(const struct al_bpf *b, const struct al_policy *p)
{
	for (size_t i = 0; i < p->n4; i++)
		bpf_map_delete_elem(b->egress4_fd, &p->v4[i].key);
	for (size_t i = 0; i < p->n6; i++)
		bpf_map_delete_elem(b->egress6_fd, &p->v6[i].key);
}

int policy_install(const struct al_bpf *b, struct al_policy *p, __u32 slot, struct al_status *st)
{
	size_t n4 = 0, n6 = 0; /* entries written */
	int err = 0;

	/* BPF_NOEXIST: a prefix listed twice in one policy is a caller bug */
	for (; n4 < p->n4; n4++) {
		p->v4[n4].key.slot = slot;
		err = bpf_map_update_elem(b->egress4_fd, &p->v4[n4].key, &p->v4[n4].rules, BPF_NOEXIST);
		if (err)
			break;
	}
	for (; !err && n6 < p->n6; n6++) {
		p->v6[n6].key.slot = slot;
		err = bpf_map_update_elem(b->egress6_fd, &p->v6[n6].key, &p->v6[n6].rules, BPF_NOEXIST);
		if (err)
			break;
	}
	if (!err)
		return 0;
	err = -errno;
	for (size_t i = 0; i < n4; i++)
		bpf_map_delete_elem(b->egress4_fd, &p->v4[i].key);
	for (size_t i = 0; i < n6; i++)
		bpf_map_delete_elem(b->egress6_fd, &p->v6[i].key);
	if (err == -EEXIST)
		return st_fail(st, ST_BAD_REQUEST, "the policy lists a prefix twice");
	if (err == -ENOSPC || err == -E2BIG || err == -ENOMEM)
		return st_fail(st, ST_TOO_LARGE, "the egress tables are full (%s)", strerror(-err));
	return st_fail(st, ST_KERNEL, "writing the egress tables: %s", strerror(-err));
}
