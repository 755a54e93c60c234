/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agents the loader enforces: their cgroup attachments, policy slots,
 * tracked processes, and killing them.
 */
#ifndef AL_AGENTS_H
#define AL_AGENTS_H

#include <limits.h>
#include <stdbool.h>
#include "policy.h"
#include "progs.h"
#include "status.h"

#define AL_ID_MAX 64

struct al_agent_rec {
	bool used;
	char id[AL_ID_MAX];
	char cgroup[PATH_MAX];
	int cgroup_fd;
	__u64 cgroup_id;
	struct al_agent cfg; /* as written to the `agents` map */
	struct al_policy policy;
	bool attached[AL_CGROUP_PROGS];
	bool killed; /* a kill has been reported */
	int first_pid;      /* its first tracked process: the mount namespace watched for opens */
	bool opens_watched; /* its mounts are marked (opens.h) */
};

void agents_init(struct al_bpf *b);
int agent_add(const char *id, const char *cgroup, const struct jval *policy,
	      struct al_agent_rec **out, struct al_status *st);
int agent_update(const char *id, const struct jval *policy, struct al_status *st);
int agent_track(const char *id, int pid, struct al_status *st);
int agent_remove(const char *id, struct al_status *st);
void agents_remove_all(void);

struct al_agent_rec *agent_by_no(__u32 no);
/* The agent a process belongs to: tracked, recently exited, or by its cgroup. */
struct al_agent_rec *agent_of_pid(int pid);
/* Remembers an exited tracked process so late kernel audit records and opens still find it. */
void agents_note_exit(int pid, __u32 no, const char *comm);
/* The name of a recently exited tracked process (AL_COMM_LEN bytes), if known. */
bool agents_exited_comm(int pid, char *comm);
unsigned agents_count(void);
unsigned agents_tracked_count(void);
/* Are the opens of some agent audited (opens.h)? */
bool agents_open_audit(void);

/*
 * Ends the whole agent: cgroup.kill, then SIGKILL to every tracked process
 * (one that left the cgroup too). Reports a "killed" event the first time;
 * `event_ns` is the CLOCK_MONOTONIC time of the violation, for the latency.
 */
void agent_kill(struct al_agent_rec *a, const char *reason, int pid, unsigned long long event_ns,
		bool in_kernel);

#endif
