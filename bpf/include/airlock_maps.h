/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys and values of the maps the loader writes and the BPF programs read.
 *
 * One loaded program set serves every agent: the cgroup programs are attached
 * to each agent's cgroup v2 directory and find the agent's settings by the
 * caller's cgroup id (`agents`), then its egress tables by policy slot (the
 * `slot` word inside every LPM key). A policy change fills a fresh slot and
 * then swaps the one `agents` entry, so a connect never sees half a policy.
 *
 * Egress tables: for every distinct prefix P of a policy, the value holds ALL
 * rules whose prefix contains P, most specific first and deny before allow at
 * the same length. One longest-prefix lookup then yields exactly the rules
 * that contain the address, and the first entry whose protocol and port match
 * decides: the most specific matching rule wins, deny wins a tie, no match
 * denies. The TypeScript side (services/enforcer/bpf/policy.ts) builds them.
 */
#ifndef AIRLOCK_MAPS_H
#define AIRLOCK_MAPS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define AL_MAX_AGENTS 1024
#define AL_MAX_SLOTS (2 * AL_MAX_AGENTS) /* a policy swap holds two slots */
#define AL_MAX_RULES 32                  /* entries per prefix */
#define AL_LPM_MAX 65536                 /* prefixes per family, all agents */
#define AL_MAX_TRACKED 65536
#define AL_RINGBUF_BYTES (4 << 20)

/* al_agent.flags */
#define AL_AGENT_KILL 0x01         /* on_violation: kill */
#define AL_AGENT_AUDIT_ALLOWS 0x02 /* audit allowed operations too */
#define AL_AGENT_TCP 0x04          /* TCP sockets may be created */
#define AL_AGENT_UDP 0x08          /* UDP sockets may be created */
#define AL_AGENT_RESOLVER 0x20     /* `resolver` is set: port 53 goes there only */

/* agents: key = cgroup id (__u64) */
struct al_agent {
	__u32 agent; /* the loader's agent number */
	__u32 slot;  /* policy slot of the egress tables */
	__u32 flags;
	__u16 resolver_port;
	__u16 pad;
	__u8 resolver[16]; /* IPv6, or IPv4-mapped IPv6 */
};

struct al_lpm4_key {
	__u32 prefixlen; /* 32 (slot) + prefix length */
	__u32 slot;
	__u8 addr[4];
};

struct al_lpm6_key {
	__u32 prefixlen; /* 32 (slot) + prefix length */
	__u32 slot;
	__u8 addr[16];
};

/* al_rule.proto: 0 any, else IPPROTO_TCP or IPPROTO_UDP */
struct al_rule {
	__u16 port_lo;
	__u16 port_hi;
	__u8 proto;
	__u8 verdict; /* enum al_verdict */
	__u16 rule;   /* rule id, echoed in events */
};

struct al_rules {
	__u32 count;
	struct al_rule e[AL_MAX_RULES];
};

/* tracked: key = tgid (__u32) */
struct al_tracked {
	__u64 cgroup; /* the agent's cgroup id: key of `agents` */
	__u32 agent;
	__u32 pad;
};

/* stats: per-CPU array indexes */
enum al_stat {
	AL_STAT_LOST = 0, /* events dropped: ring buffer full */
	AL_STAT_MAX,
};

#endif /* AIRLOCK_MAPS_H */
