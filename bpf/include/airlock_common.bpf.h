/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps and helpers shared by egress.bpf.c and audit.bpf.c. Both objects
 * declare these maps; the loader loads egress first and hands its map fds to
 * the audit object (bpf_map__reuse_fd), so there is one copy of each.
 */
#ifndef AIRLOCK_COMMON_BPF_H
#define AIRLOCK_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "airlock_events.h"
#include "airlock_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AL_MAX_AGENTS);
	__type(key, __u64);
	__type(value, struct al_agent);
} agents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, AL_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AL_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void *al_reserve(__u32 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e) {
		__u32 k = AL_STAT_LOST;
		__u64 *lost = bpf_map_lookup_elem(&stats, &k);

		if (lost)
			(*lost)++;
	}
	return e;
}

/*
 * Denials wake the loader at once (it may have to kill the agent). Routine
 * events are submitted without a wake-up, which costs a third of the time
 * (KERNEL-NOTES), and the loader drains them on a timer; the record that
 * fills another eighth of the buffer wakes it, once, so a burst between two
 * ticks cannot overflow it.
 */
#define AL_WAKE_STEP (AL_RINGBUF_BYTES / 8)

static __always_inline void al_submit(void *e, __u32 size, bool urgent)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bool crossed = avail / AL_WAKE_STEP != (avail - size) / AL_WAKE_STEP;

	bpf_ringbuf_submit(e, urgent || crossed ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline void al_fill(struct al_hdr *h, struct al_task *t, __u16 op, __u16 size,
				    __u32 agent)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->op = op;
	h->size = size;
	h->agent = agent;
	h->time_ns = bpf_ktime_get_ns();
	t->pid = id >> 32;
	t->tid = (__u32)id;
	t->uid = (__u32)bpf_get_current_uid_gid();
	t->flags = 0;
	bpf_get_current_comm(t->comm, sizeof(t->comm));
}

char LICENSE[] SEC("license") = "GPL";

#endif /* AIRLOCK_COMMON_BPF_H */
