/* SPDX-License-Identifier: Apache-2.0 */
/* The loaded BPF objects: open, configure, load, attach the audit hooks, destroy. */
#ifndef AL_PROGS_H
#define AL_PROGS_H

#include <stdbool.h>
#include <linux/bpf.h>

#define AL_CGROUP_PROGS 7

struct al_cgroup_prog {
	const char *name;
	enum bpf_attach_type type;
	int fd;
	__u32 id;
};

struct al_bpf {
	struct egress_bpf *egress;
	struct audit_bpf *audit;
	struct al_cgroup_prog cgroup[AL_CGROUP_PROGS];
	int agents_fd, egress4_fd, egress6_fd, tracked_fd, stats_fd, events_fd;
};

/* Loads both objects and attaches the process-tree hooks. Returns 0 or -errno. */
int progs_load(struct al_bpf *b);
void progs_destroy(struct al_bpf *b);

#endif
