/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress policy for agents: cgroup/connect4, connect6, sendmsg4, sendmsg6
 * and sock_create, attached to each agent's cgroup v2 directory.
 *
 * Returning 0 makes the caller's syscall fail with EPERM. The decision:
 *   1. the caller's cgroup id finds the agent (none: deny, fail closed);
 *   2. TCP or UDP to port 53 goes to the configured resolver or nowhere;
 *   3. the longest prefix of the policy slot containing the address gives
 *      the candidate rules (see airlock_maps.h), first protocol+port match
 *      decides; no match denies.
 * IPv4-mapped IPv6 addresses are checked against the IPv4 table.
 * Denials are always reported; allows only when the agent audits allows.
 * Under on_violation: kill the denied process is sent SIGKILL from here, in
 * its own context, before the syscall returns; the loader then kills the
 * rest of the agent through cgroup.kill when it reads the event.
 */
#include "airlock_common.bpf.h"
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define SIGKILL 9

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, AL_LPM_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct al_lpm4_key);
	__type(value, struct al_rules);
} egress4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, AL_LPM_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct al_lpm6_key);
	__type(value, struct al_rules);
} egress6 SEC(".maps");

#ifdef AL_KFUNC_KILL
/* Linux 6.13+: signal a task from program types without bpf_send_signal(). */
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
				u64 value) __ksym;

static __always_inline bool kill_current(void)
{
	struct task_struct *t = bpf_task_from_pid(bpf_get_current_pid_tgid() >> 32);
	int err;

	if (!t)
		return false;
	err = bpf_send_signal_task(t, SIGKILL, PIDTYPE_TGID, 0);
	bpf_task_release(t);
	return err == 0;
}
#else
static __always_inline bool kill_current(void)
{
	return false;
}
#endif

struct decision {
	__u8 verdict;
	__u8 reason;
	__u16 rule;
};

static __always_inline struct decision match(struct al_rules *r, __u16 port, __u32 proto)
{
	struct decision d = { AL_DENY, AL_REASON_NO_RULE, 0 };

	if (!r)
		return d;
	for (int i = 0; i < AL_MAX_RULES; i++) {
		struct al_rule *e;

		if (i >= r->count)
			break;
		e = &r->e[i];
		if (e->proto && e->proto != proto)
			continue;
		if (port < e->port_lo || port > e->port_hi)
			continue;
		d.verdict = e->verdict;
		d.reason = AL_REASON_RULE;
		d.rule = e->rule;
		break;
	}
	return d;
}

/* The address under check: IPv4 in addr[0..3] when family == 4. */
struct target {
	__u8 family;
	__u8 mapped;
	__u8 addr[16];
};

static __always_inline bool same_bytes(const __u8 *a, const __u8 *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static __always_inline bool is_resolver(const struct al_agent *a, const struct target *t)
{
	static const __u8 v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!(a->flags & AL_AGENT_RESOLVER))
		return false;
	if (t->family == 4) /* the resolver is stored IPv4-mapped */
		return same_bytes(a->resolver, v4_mapped, 12) &&
		       same_bytes(a->resolver + 12, t->addr, 4);
	return same_bytes(a->resolver, t->addr, 16);
}

static __always_inline struct decision decide(const struct al_agent *a, const struct target *t,
					      __u16 port, __u32 proto)
{
	if (port == 53 && !(is_resolver(a, t) && a->resolver_port == 53)) {
		struct decision d = { AL_DENY, AL_REASON_DNS, 0 };
		return d;
	}
	if (t->family == 4) {
		struct al_lpm4_key k = { .prefixlen = 64, .slot = a->slot };

		__builtin_memcpy(k.addr, t->addr, 4);
		return match(bpf_map_lookup_elem(&egress4, &k), port, proto);
	} else {
		struct al_lpm6_key k = { .prefixlen = 160, .slot = a->slot };

		__builtin_memcpy(k.addr, t->addr, 16);
		return match(bpf_map_lookup_elem(&egress6, &k), port, proto);
	}
}

static __always_inline void report_connect(const struct al_agent *a, const struct target *t,
					   struct decision d, __u8 hook, __u16 port, __u32 proto,
					   bool killed)
{
	struct al_connect_event *e = al_reserve(sizeof(*e));

	if (!e)
		return;
	al_fill(&e->hdr, &e->task, AL_OP_CONNECT, sizeof(*e), a ? a->agent : 0);
	e->task.flags = (killed ? AL_F_KILLED : 0) | (t->mapped ? AL_F_MAPPED : 0);
	e->hook = hook;
	e->verdict = d.verdict;
	e->reason = d.reason;
	e->family = t->family;
	e->protocol = proto;
	e->port = port;
	e->rule = d.rule;
	e->pad16 = 0;
	e->pad32 = 0;
	__builtin_memcpy(e->addr, t->addr, 16);
	al_submit(e, sizeof(*e), d.verdict != AL_ALLOW);
}

static __always_inline int check(struct bpf_sock_addr *ctx, __u8 hook, bool v6)
{
	__u64 cg = bpf_get_current_cgroup_id();
	struct al_agent *a = bpf_map_lookup_elem(&agents, &cg);
	struct target t = {};
	struct decision d = { AL_DENY, AL_REASON_UNKNOWN_AGENT, 0 };
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	__u32 proto = ctx->protocol;
	bool killed = false;

	if (v6) {
		__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
		__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];

		if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff)) {
			t.family = 4;
			t.mapped = 1;
			__builtin_memcpy(t.addr, &w3, 4);
		} else {
			t.family = 6;
			__builtin_memcpy(t.addr, &w0, 4);
			__builtin_memcpy(t.addr + 4, &w1, 4);
			__builtin_memcpy(t.addr + 8, &w2, 4);
			__builtin_memcpy(t.addr + 12, &w3, 4);
		}
	} else {
		__u32 w = ctx->user_ip4;

		t.family = 4;
		__builtin_memcpy(t.addr, &w, 4);
	}

	if (a)
		d = decide(a, &t, port, proto);
	if (d.verdict == AL_ALLOW) {
		if (a && (a->flags & AL_AGENT_AUDIT_ALLOWS))
			report_connect(a, &t, d, hook, port, proto, false);
		return 1;
	}
	if (a && (a->flags & AL_AGENT_KILL))
		killed = kill_current();
	report_connect(a, &t, d, hook, port, proto, killed);
	return 0;
}

SEC("cgroup/connect4")
int al_connect4(struct bpf_sock_addr *ctx)
{
	return check(ctx, AL_HOOK_CONNECT4, false);
}

SEC("cgroup/connect6")
int al_connect6(struct bpf_sock_addr *ctx)
{
	return check(ctx, AL_HOOK_CONNECT6, true);
}

SEC("cgroup/sendmsg4")
int al_sendmsg4(struct bpf_sock_addr *ctx)
{
	return check(ctx, AL_HOOK_SENDMSG4, false);
}

SEC("cgroup/sendmsg6")
int al_sendmsg6(struct bpf_sock_addr *ctx)
{
	return check(ctx, AL_HOOK_SENDMSG6, true);
}

/*
 * Only TCP stream and UDP datagram sockets of AF_INET/AF_INET6, and only the
 * kinds the policy can use at all. Never raw sockets; never ICMP "ping"
 * sockets, MPTCP, SCTP or UDP-Lite: measured here, sendto() on a ping socket
 * does not run the sendmsg hooks, so its destination could not be checked.
 * Other families (packet, netlink) do not come here: seccomp refuses them.
 */
SEC("cgroup/sock_create")
int al_sock_create(struct bpf_sock *sk)
{
	__u64 cg = bpf_get_current_cgroup_id();
	struct al_agent *a = bpf_map_lookup_elem(&agents, &cg);
	__u32 type = sk->type, proto = sk->protocol, family = sk->family;
	struct al_socket_event *e;
	__u8 verdict = AL_DENY, reason = AL_REASON_UNKNOWN_AGENT;
	bool killed = false;

	if (a) {
		__u32 f = a->flags;
		bool ok = (type == SOCK_STREAM && proto == IPPROTO_TCP && (f & AL_AGENT_TCP)) ||
			  (type == SOCK_DGRAM && proto == IPPROTO_UDP && (f & AL_AGENT_UDP));

		verdict = ok ? AL_ALLOW : AL_DENY;
		reason = ok ? AL_REASON_RULE : AL_REASON_SOCKET_TYPE;
		if (ok && !(f & AL_AGENT_AUDIT_ALLOWS))
			return 1;
		if (!ok && (f & AL_AGENT_KILL))
			killed = kill_current();
	}
	e = al_reserve(sizeof(*e));
	if (e) {
		al_fill(&e->hdr, &e->task, AL_OP_SOCKET, sizeof(*e), a ? a->agent : 0);
		e->task.flags = killed ? AL_F_KILLED : 0;
		e->verdict = verdict;
		e->reason = reason;
		e->family = family;
		e->type = type;
		e->protocol = proto;
		e->pad[0] = 0;
		e->pad[1] = 0;
		al_submit(e, sizeof(*e), verdict != AL_ALLOW);
	}
	return verdict == AL_ALLOW;
}
