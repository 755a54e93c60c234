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
 * File opens have no hook here: a syscall-exit hook would put every syscall
 * of every process on the slow path. The loader audits allowed opens with
 * fanotify marks on the agent's own mounts (loader/opens.h); Landlock reports
 * denied ones to the kernel audit subsystem, which the loader reads.
 */
#include "airlock_common.bpf.h"
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>


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
