/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process-tree tracking and audit of tracked processes.
 *
 * `tracked` maps a tgid to its agent. The enforcer registers the agent's
 * first process while it is still blocked (before it execs anything); the
 * fork hook adds every child, the exit hook removes the process. The hooks
 * are the sched_process_* raw tracepoints (tp_btf: typed arguments, no
 * tracefs, no per-syscall cost): they run on every fork/exec/exit of the
 * host, which is rare next to syscalls, and leave at once for untracked
 * processes.
 *
 * al_open_exit audits file opens of tracked processes. It is attached to the
 * sys_exit raw tracepoint only while some agent's policy audits allowed
 * operations: that hook puts every syscall of every process on the slow
 * path, so the host pays for it (see bpf/README.md for the figures). Denied
 * opens need no hook here: Landlock reports them to the kernel audit
 * subsystem, which the loader reads.
 */
#include "airlock_common.bpf.h"
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define NR_open 2
#define NR_creat 85
#define NR_openat 257
#define NR_openat2 437
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AL_MAX_TRACKED);
	__type(key, __u32);
	__type(value, struct al_tracked);
} tracked SEC(".maps");

SEC("tp_btf/sched_process_fork")
int BPF_PROG(al_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	struct al_tracked *t;
	struct al_spawn_event *e;

	if (ctgid == ptgid) /* a new thread, not a new process */
		return 0;
	t = bpf_map_lookup_elem(&tracked, &ptgid);
	if (!t)
		return 0;
	bpf_map_update_elem(&tracked, &ctgid, t, BPF_ANY);
	e = al_reserve(sizeof(*e));
	if (!e)
		return 0;
	al_fill(&e->hdr, &e->task, AL_OP_SPAWN, sizeof(*e), t->agent);
	e->child = ctgid;
	e->pad = 0;
	al_submit(e, sizeof(*e), false);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(al_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	struct al_tracked *t = bpf_map_lookup_elem(&tracked, &tgid);
	struct al_exec_event *e;
	long n;

	if (!t)
		return 0;
	e = al_reserve(sizeof(*e));
	if (!e)
		return 0;
	al_fill(&e->hdr, &e->task, AL_OP_EXEC, sizeof(*e), t->agent);
	e->ppid = p->real_parent->tgid;
	e->pad = 0;
	n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), bprm->filename);
	if (n == sizeof(e->filename))
		e->task.flags |= AL_F_TRUNCATED;
	e->hdr.size = offsetof(struct al_exec_event, filename) + (n > 0 ? n : 0);
	al_submit(e, sizeof(*e), false);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(al_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = p->tgid;
	struct al_tracked *t;
	struct al_exit_event *e;
	__u32 agent;

	if (!group_dead)
		return 0;
	t = bpf_map_lookup_elem(&tracked, &tgid);
	if (!t)
		return 0;
	agent = t->agent;
	bpf_map_delete_elem(&tracked, &tgid);
	e = al_reserve(sizeof(*e));
	if (!e)
		return 0;
	al_fill(&e->hdr, &e->task, AL_OP_EXIT, sizeof(*e), agent);
	e->exit_code = p->exit_code;
	e->pad = 0;
	al_submit(e, sizeof(*e), false);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(al_open_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	const char *path;
	__u32 flags, tgid;
	struct al_tracked *t;
	struct al_agent *a;
	struct al_open_event *e;
	long n;

	if (nr == NR_openat) {
		path = (const char *)regs->si;
		flags = regs->dx;
	} else if (nr == NR_open) {
		path = (const char *)regs->di;
		flags = regs->si;
	} else if (nr == NR_creat) {
		path = (const char *)regs->di;
		flags = O_CREAT | O_WRONLY | O_TRUNC;
	} else if (nr == NR_openat2) {
		__u64 how_flags = 0;

		path = (const char *)regs->si;
		bpf_probe_read_user(&how_flags, sizeof(how_flags), (void *)regs->dx);
		flags = how_flags;
	} else {
		return 0;
	}
	tgid = bpf_get_current_pid_tgid() >> 32;
	t = bpf_map_lookup_elem(&tracked, &tgid);
	if (!t)
		return 0;
	a = bpf_map_lookup_elem(&agents, &t->cgroup);
	if (!a || !(a->flags & AL_AGENT_AUDIT_ALLOWS))
		return 0;
	e = al_reserve(sizeof(*e));
	if (!e)
		return 0;
	al_fill(&e->hdr, &e->task, AL_OP_OPEN, sizeof(*e), t->agent);
	e->ret = ret;
	e->open_flags = flags;
	n = bpf_probe_read_user_str(e->path, sizeof(e->path), path);
	if (n <= 0) {
		e->path[0] = 0;
		n = 1;
	} else if (n == sizeof(e->path)) {
		e->task.flags |= AL_F_TRUNCATED;
	}
	/* forward the path's bytes only: most paths are far shorter than 256 */
	e->hdr.size = offsetof(struct al_open_event, path) + n;
	al_submit(e, sizeof(*e), false);
	return 0;
}
