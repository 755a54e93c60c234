/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress policy for agents: cgroup/connect4, connect6, sendmsg4, sendmsg6,
 * sock_create and the UNIX socket hooks (connect_unix, sendmsg_unix),
 * attached to each agent's cgroup v2 directory.
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

#define AF_UNIX 1
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
 * Pathname UNIX sockets: Landlock scopes abstract sockets but has no right
 * for connecting to a pathname one, so a host socket the agent's uid may
 * write (/dev/log, the D-Bus system bus) would be open to every agent. No
 * policy reaches one: connect and sendmsg to a pathname are denied, except
 * the name-service sockets libc probes on every user lookup (nscd; systemd's
 * userdb), which only answer questions /etc/passwd answers too, and which
 * fail quietly where nothing listens. Abstract and unnamed addresses pass
 * (Landlock decides). The path is the caller's string: a relative one never
 * matches the exceptions.
 */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

static __always_inline bool starts_with(const char *path, __u32 len, const char *prefix, __u32 n, bool whole)
{
	if (len < n || (whole && len != n && path[n] != 0))
		return false;
	for (__u32 i = 0; i < n && i < AL_UNIX_PATH_LEN; i++)
		if (path[i] != prefix[i])
			return false;
	return true;
}

static __always_inline int check_unix(struct bpf_sock_addr *ctx, __u8 hook)
{
	/* on the stack: static strings trip libbpf 1.1's .rodata BTF fix-up */
	const char NSCD[] = "/var/run/nscd/socket", NSCD_RUN[] = "/run/nscd/socket", USERDB[] = "/run/systemd/userdb/";
	struct bpf_sock_addr_kern *sa = bpf_cast_to_kern_ctx(ctx);
	__u64 cg = bpf_get_current_cgroup_id();
	struct al_agent *a = bpf_map_lookup_elem(&agents, &cg);
	struct al_unix_event *e;
	__u8 reason = AL_REASON_UNIX_PATH;
	__u32 len = sa->uaddrlen;
	bool killed = false;

	if (len <= sizeof(__u16))
		return 1; /* unnamed: the kernel refuses it */
	len -= sizeof(__u16);
	if (len > AL_UNIX_PATH_LEN)
		len = AL_UNIX_PATH_LEN;
	e = al_reserve(sizeof(*e));
	if (!e)
		return 0; /* no room to report it: still denied */
	/* the whole array (the kernel's copy of the address is a sockaddr_storage), then only the caller's bytes kept */
	if (bpf_probe_read_kernel(e->path, sizeof(e->path), ((struct sockaddr_un *)sa->uaddr)->sun_path))
		__builtin_memset(e->path, 0, sizeof(e->path));
	for (__u32 i = 0; i < AL_UNIX_PATH_LEN; i++)
		if (i >= len)
			e->path[i] = 0;
	if (e->path[0] == 0) {
		bpf_ringbuf_discard(e, 0);
		return 1; /* abstract: Landlock's scope decides */
	}
	if (a && (starts_with(e->path, len, NSCD, sizeof(NSCD) - 1, true) ||
		  starts_with(e->path, len, NSCD_RUN, sizeof(NSCD_RUN) - 1, true) ||
		  starts_with(e->path, len, USERDB, sizeof(USERDB) - 1, false))) {
		bpf_ringbuf_discard(e, 0);
		return 1;
	}
	if (!a)
		reason = AL_REASON_UNKNOWN_AGENT;
	else if (a->flags & AL_AGENT_KILL)
		killed = kill_current();
	al_fill(&e->hdr, &e->task, AL_OP_UNIX, sizeof(*e), a ? a->agent : 0);
	e->task.flags = killed ? AL_F_KILLED : 0;
	e->hook = hook;
	e->verdict = AL_DENY;
	e->reason = reason;
	e->pad8 = 0;
	e->path_len = len;
	e->pad32 = 0;
	al_submit(e, sizeof(*e), true);
	return 0;
}

/* libbpf 1.1 has no section name for these: the loader sets their attach type. */
SEC("cgroup/connect4")
int al_connect_unix(struct bpf_sock_addr *ctx)
{
	return check_unix(ctx, AL_HOOK_CONNECT_UNIX);
}

SEC("cgroup/sendmsg4")
int al_sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return check_unix(ctx, AL_HOOK_SENDMSG_UNIX);
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
