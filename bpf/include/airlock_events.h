/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audit records that the Airlock BPF programs write to the `events` ring
 * buffer. One layout, read by three parties: the BPF programs (writers), the
 * loader (forwards each record as base64 on its line protocol) and the
 * TypeScript decoder (services/enforcer/bpf/events.ts). The unit test
 * test/unit/bpf-events-layout.test.ts compiles this header and checks every
 * offset the decoder uses.
 *
 * Rules of the wire format:
 * - every record starts with struct al_hdr; `size` is the length in use:
 *   exec and open records end after their string's NUL (the loader forwards
 *   only `size` bytes), the others are their struct's size;
 * - op numbers are never changed or reused, new events get new numbers;
 * - fields are naturally aligned with explicit padding, so the layout is the
 *   same for clang -target bpf and the host compiler;
 * - strings are NUL-terminated inside their fixed arrays.
 */
#ifndef AIRLOCK_EVENTS_H
#define AIRLOCK_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum al_op {
	AL_OP_EXEC = 1,    /* a tracked process called execve */
	AL_OP_SPAWN = 2,   /* a tracked process created a process */
	AL_OP_EXIT = 3,    /* the last thread of a tracked process exited */
	AL_OP_CONNECT = 4, /* connect()/sendmsg() to an address, from an agent cgroup */
	AL_OP_SOCKET = 5,  /* socket() in an agent cgroup */
	AL_OP_OPEN = 6,    /* open/openat/openat2/creat by a tracked process */
	AL_OP_UNIX = 7,    /* connect()/sendmsg() to a pathname UNIX socket, from an agent cgroup */
};

enum al_verdict {
	AL_ALLOW = 0,
	AL_DENY = 1,
};

/* Why a connect or socket verdict was reached. */
enum al_reason {
	AL_REASON_RULE = 0,          /* a rule matched: al_connect_event.rule */
	AL_REASON_NO_RULE = 1,       /* no rule matched: default deny */
	AL_REASON_DNS = 2,           /* port 53 to something other than the resolver */
	AL_REASON_UNKNOWN_AGENT = 3, /* the cgroup has our programs but no policy */
	AL_REASON_SOCKET_TYPE = 4,   /* socket type/protocol the policy does not use */
	AL_REASON_UNIX_PATH = 5,     /* a pathname UNIX socket: no policy reaches one */
};

enum al_hook {
	AL_HOOK_CONNECT4 = 1,
	AL_HOOK_CONNECT6 = 2,
	AL_HOOK_SENDMSG4 = 3,
	AL_HOOK_SENDMSG6 = 4,
	AL_HOOK_SOCK_CREATE = 5,
	AL_HOOK_CONNECT_UNIX = 6,
	AL_HOOK_SENDMSG_UNIX = 7,
};

/* al_task.flags */
#define AL_F_KILLED 0x1    /* the program sent SIGKILL to the process itself */
#define AL_F_MAPPED 0x2    /* an IPv4-mapped IPv6 address, checked as IPv4 */
#define AL_F_TRUNCATED 0x4 /* a string did not fit its array */

#define AL_COMM_LEN 16
#define AL_PATH_LEN 256
#define AL_UNIX_PATH_LEN 108 /* sockaddr_un.sun_path */

struct al_hdr {
	__u16 op;
	__u16 size;
	__u32 agent;   /* the loader's agent number, 0 = none */
	__u64 time_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
};

/* The process the event is about (the caller, for connect/socket/open). */
struct al_task {
	__u32 pid; /* thread group id, as user space sees a pid */
	__u32 tid;
	__u32 uid;
	__u32 flags; /* AL_F_* */
	char comm[AL_COMM_LEN];
};

struct al_exec_event {
	struct al_hdr hdr;
	struct al_task task;
	__u32 ppid;
	__u32 pad;
	char filename[AL_PATH_LEN];
};

struct al_spawn_event {
	struct al_hdr hdr;
	struct al_task task; /* the parent */
	__u32 child;
	__u32 pad;
};

struct al_exit_event {
	struct al_hdr hdr;
	struct al_task task;
	__s32 exit_code; /* wait status: (code << 8) | signal */
	__u32 pad;
};

struct al_connect_event {
	struct al_hdr hdr;
	struct al_task task;
	__u8 hook;    /* enum al_hook */
	__u8 verdict; /* enum al_verdict */
	__u8 reason;  /* enum al_reason */
	__u8 family;  /* 4 or 6: how the address was checked */
	__u16 protocol;
	__u16 port; /* host byte order */
	__u16 rule; /* rule id from the policy tables, 0 = none */
	__u16 pad16;
	__u32 pad32;
	__u8 addr[16]; /* network order; IPv4 in the first 4 bytes */
};

struct al_socket_event {
	struct al_hdr hdr;
	struct al_task task;
	__u8 verdict;
	__u8 reason;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 type;   /* SOCK_STREAM, SOCK_DGRAM, SOCK_RAW ... */
	__u16 protocol;
	__u32 pad[2];
};

struct al_open_event {
	struct al_hdr hdr;
	struct al_task task;
	__s32 ret; /* the file descriptor, or -errno */
	__u32 open_flags;
	char path[AL_PATH_LEN];
};

/* A pathname UNIX socket: sun_path as the caller passed it (maybe relative, not NUL-terminated). */
struct al_unix_event {
	struct al_hdr hdr;
	struct al_task task;
	__u8 hook;    /* enum al_hook */
	__u8 verdict; /* enum al_verdict */
	__u8 reason;  /* enum al_reason */
	__u8 pad8;
	__u32 path_len;
	char path[AL_UNIX_PATH_LEN];
	__u32 pad32;
};

#endif /* AIRLOCK_EVENTS_H */
