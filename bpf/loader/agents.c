// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "agents.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>

#include "airlock_events.h"
#include "json.h"
#include "opens.h"

static struct al_bpf *bpf;
static struct al_agent_rec agents[AL_MAX_AGENTS];
static bool slot_used[AL_MAX_SLOTS];

#define EXIT_CACHE 1024
static struct { int pid; __u32 no; char comm[AL_COMM_LEN]; } exits[EXIT_CACHE];
static unsigned exits_next;

void agents_init(struct al_bpf *b)
{
	bpf = b;
}

static __u32 agent_no(const struct al_agent_rec *a)
{
	return (__u32)(a - agents) + 1;
}

struct al_agent_rec *agent_by_no(__u32 no)
{
	if (no < 1 || no > AL_MAX_AGENTS || !agents[no - 1].used)
		return NULL;
	return &agents[no - 1];
}

static struct al_agent_rec *agent_by_id(const char *id)
{
	for (int i = 0; i < AL_MAX_AGENTS; i++)
		if (agents[i].used && strcmp(agents[i].id, id) == 0)
			return &agents[i];
	return NULL;
}

unsigned agents_count(void)
{
	unsigned n = 0;

	for (int i = 0; i < AL_MAX_AGENTS; i++)
		n += agents[i].used;
	return n;
}

static int alloc_slot(void)
{
	for (int i = 0; i < AL_MAX_SLOTS; i++)
		if (!slot_used[i]) {
			slot_used[i] = true;
			return i;
		}
	return -1;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= AL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* The 64-bit cgroup id that bpf_get_current_cgroup_id() returns, from a file handle. */
static int cgroup_id_of(const char *path, __u64 *id)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h = { .fh.handle_bytes = sizeof(__u64) };
	int mount_id;

	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0)
		return -errno;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

static int open_cgroup(const char *path, int *fd, __u64 *id, struct al_status *st)
{
	struct statfs sfs;
	int err;

	if (path[0] != '/' || strlen(path) >= PATH_MAX)
		return st_fail(st, ST_BAD_REQUEST, "\"cgroup\" must be an absolute path");
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return st_fail(st, ST_CGROUP, "cannot open cgroup %s: %s", path, strerror(errno));
	if (fstatfs(*fd, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		close(*fd);
		return st_fail(st, ST_CGROUP, "%s is not a cgroup v2 directory", path);
	}
	err = cgroup_id_of(path, id);
	if (err) {
		close(*fd);
		return st_fail(st, ST_CGROUP, "cannot read the id of cgroup %s: %s", path, strerror(-err));
	}
	return 0;
}

/*
 * A loader that died without cleaning up leaves its programs attached (that
 * keeps the agent fenced in). Before attaching ours, detach any program of
 * the same name that is not ours.
 */
static void detach_stale(int cgroup_fd, const struct al_cgroup_prog *p)
{
	__u32 ids[64], cnt = 64, flags = 0;

	if (bpf_prog_query(cgroup_fd, p->type, 0, &flags, ids, &cnt))
		return;
	for (__u32 i = 0; i < cnt; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd;

		if (ids[i] == p->id)
			continue;
		fd = bpf_prog_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && strcmp(info.name, p->name) == 0)
			bpf_prog_detach2(fd, cgroup_fd, p->type);
		close(fd);
	}
}

static void detach_all(struct al_agent_rec *a)
{
	for (int i = 0; i < AL_CGROUP_PROGS; i++)
		if (a->attached[i]) {
			bpf_prog_detach2(bpf->cgroup[i].fd, a->cgroup_fd, bpf->cgroup[i].type);
			a->attached[i] = false;
		}
}

static int attach_all(struct al_agent_rec *a, struct al_status *st)
{
	for (int i = 0; i < AL_CGROUP_PROGS; i++) {
		const struct al_cgroup_prog *p = &bpf->cgroup[i];

		detach_stale(a->cgroup_fd, p);
		if (bpf_prog_attach(p->fd, a->cgroup_fd, p->type, BPF_F_ALLOW_MULTI)) {
			int err = errno;

			detach_all(a);
			return st_fail(st, ST_ATTACH, "attaching %s to %s: %s", p->name, a->cgroup,
				       strerror(err));
		}
		a->attached[i] = true;
	}
	return 0;
}

/* Its opens audited from now on, if it audits allows: its first tracked process's mounts marked once. */
static int watch_opens(struct al_agent_rec *a, struct al_status *st)
{
	char why[256];
	int err;

	if (!(a->cfg.flags & AL_AGENT_AUDIT_ALLOWS) || a->opens_watched || a->first_pid <= 0)
		return 0;
	err = opens_watch(a->first_pid, why, sizeof(why));
	if (err)
		return st_fail(st, ST_ATTACH, "auditing the file opens of agent %s: %s", a->id, why);
	a->opens_watched = true;
	return 0;
}

static void untrack_agent(__u32 no)
{
	__u32 key, next, *prev = NULL;
	__u32 doomed[1024];
	unsigned n = 0;

	/* collect first: deleting while walking restarts the walk */
	do {
		n = 0;
		prev = NULL;
		while (n < 1024 && bpf_map_get_next_key(bpf->tracked_fd, prev, &next) == 0) {
			struct al_tracked t;

			key = next;
			prev = &key;
			if (!bpf_map_lookup_elem(bpf->tracked_fd, &key, &t) && t.agent == no)
				doomed[n++] = key;
		}
		for (unsigned i = 0; i < n; i++)
			bpf_map_delete_elem(bpf->tracked_fd, &doomed[i]);
	} while (n == 1024);
}

static void release(struct al_agent_rec *a)
{
	detach_all(a);
	bpf_map_delete_elem(bpf->agents_fd, &a->cgroup_id);
	policy_uninstall(bpf, &a->policy);
	policy_free(&a->policy);
	slot_used[a->cfg.slot] = false;
	untrack_agent(agent_no(a));
	if (a->cgroup_fd >= 0)
		close(a->cgroup_fd);
	memset(a, 0, sizeof(*a));
	a->cgroup_fd = -1;
}

static void fill_cfg(struct al_agent *cfg, const struct al_policy *p, __u32 no, __u32 slot)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->agent = no;
	cfg->slot = slot;
	cfg->flags = p->flags;
	cfg->resolver_port = p->resolver_port;
	memcpy(cfg->resolver, p->resolver, sizeof(cfg->resolver));
}

int agent_add(const char *id, const char *cgroup, const struct jval *policy,
	      struct al_agent_rec **out, struct al_status *st)
{
	struct al_agent_rec *a = NULL;
	int slot;

	if (!valid_id(id))
		return st_fail(st, ST_BAD_REQUEST, "agent id must be 1-%d of [A-Za-z0-9._-]", AL_ID_MAX - 1);
	if (agent_by_id(id))
		return st_fail(st, ST_AGENT_EXISTS, "agent %s is already registered", id);
	for (int i = 0; i < AL_MAX_AGENTS && !a; i++)
		if (!agents[i].used)
			a = &agents[i];
	if (!a)
		return st_fail(st, ST_TOO_MANY, "at most %d agents", AL_MAX_AGENTS);

	memset(a, 0, sizeof(*a));
	a->cgroup_fd = -1;
	if (open_cgroup(cgroup, &a->cgroup_fd, &a->cgroup_id, st))
		return -1;
	for (int i = 0; i < AL_MAX_AGENTS; i++)
		if (agents[i].used && agents[i].cgroup_id == a->cgroup_id) {
			close(a->cgroup_fd);
			return st_fail(st, ST_AGENT_EXISTS, "cgroup %s already belongs to agent %s",
				       cgroup, agents[i].id);
		}
	if (policy_parse(policy, &a->policy, st)) {
		close(a->cgroup_fd);
		return -1;
	}
	slot = alloc_slot();
	if (slot < 0 || policy_install(bpf, &a->policy, slot, st)) {
		if (slot < 0)
			st_fail(st, ST_TOO_MANY, "no free policy slot");
		else
			slot_used[slot] = false;
		policy_free(&a->policy);
		close(a->cgroup_fd);
		return -1;
	}
	snprintf(a->id, sizeof(a->id), "%s", id);
	snprintf(a->cgroup, sizeof(a->cgroup), "%s", cgroup);
	fill_cfg(&a->cfg, &a->policy, agent_no(a), slot);
	a->used = true;

	/* settings before programs: the programs fail closed without them */
	if (bpf_map_update_elem(bpf->agents_fd, &a->cgroup_id, &a->cfg, BPF_NOEXIST)) {
		st_fail(st, ST_KERNEL, "writing the agent settings: %s", strerror(errno));
		release(a);
		return -1;
	}
	if (attach_all(a, st)) {
		release(a);
		return -1;
	}
	*out = a;
	return 0;
}

int agent_update(const char *id, const struct jval *policy, struct al_status *st)
{
	struct al_agent_rec *a = agent_by_id(id);
	struct al_policy next;
	struct al_agent cfg;
	__u32 old_slot;
	int slot;

	if (!a)
		return st_fail(st, ST_AGENT_NOT_FOUND, "no agent %s", id);
	if (policy_parse(policy, &next, st))
		return -1;
	slot = alloc_slot();
	if (slot < 0 || policy_install(bpf, &next, slot, st)) {
		if (slot < 0)
			st_fail(st, ST_TOO_MANY, "no free policy slot");
		else
			slot_used[slot] = false;
		policy_free(&next);
		return -1;
	}
	/* one map update switches every hook to the new tables at once */
	fill_cfg(&cfg, &next, agent_no(a), slot);
	if (bpf_map_update_elem(bpf->agents_fd, &a->cgroup_id, &cfg, BPF_EXIST)) {
		st_fail(st, ST_KERNEL, "switching the agent settings: %s", strerror(errno));
		policy_uninstall(bpf, &next);
		policy_free(&next);
		slot_used[slot] = false;
		return -1;
	}
	old_slot = a->cfg.slot;
	policy_uninstall(bpf, &a->policy);
	policy_free(&a->policy);
	slot_used[old_slot] = false;
	a->policy = next;
	a->cfg = cfg;
	return watch_opens(a, st);
}

int agent_track(const char *id, int pid, struct al_status *st)
{
	struct al_agent_rec *a = agent_by_id(id);
	struct al_tracked t = {};
	__u32 key = pid;

	if (!a)
		return st_fail(st, ST_AGENT_NOT_FOUND, "no agent %s", id);
	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH))
		return st_fail(st, ST_PID, "no process %d", pid);
	t.cgroup = a->cgroup_id;
	t.agent = agent_no(a);
	if (bpf_map_update_elem(bpf->tracked_fd, &key, &t, BPF_ANY))
		return st_fail(st, errno == E2BIG ? ST_TOO_LARGE : ST_KERNEL, "tracking %d: %s",
			       pid, strerror(errno));
	if (a->first_pid <= 0)
		a->first_pid = pid;
	return watch_opens(a, st);
}

int agent_remove(const char *id, struct al_status *st)
{
	struct al_agent_rec *a = agent_by_id(id);

	if (!a)
		return st_fail(st, ST_AGENT_NOT_FOUND, "no agent %s", id);
	release(a);
	return 0;
}

void agents_remove_all(void)
{
	for (int i = 0; i < AL_MAX_AGENTS; i++)
		if (agents[i].used)
			release(&agents[i]);
}

unsigned agents_tracked_count(void)
{
	__u32 key, next, *prev = NULL;
	unsigned n = 0;

	while (bpf_map_get_next_key(bpf->tracked_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

bool agents_open_audit(void)
{
	for (int i = 0; i < AL_MAX_AGENTS; i++)
		if (agents[i].used && agents[i].opens_watched && (agents[i].cfg.flags & AL_AGENT_AUDIT_ALLOWS))
			return true;
	return false;
}

void agents_note_exit(int pid, __u32 no, const char *comm)
{
	exits[exits_next % EXIT_CACHE].pid = pid;
	exits[exits_next % EXIT_CACHE].no = no;
	snprintf(exits[exits_next % EXIT_CACHE].comm, AL_COMM_LEN, "%s", comm);
	exits_next++;
}

bool agents_exited_comm(int pid, char *comm)
{
	/* newest first: a pid may have been reused */
	for (unsigned i = 1; i <= EXIT_CACHE && i <= exits_next; i++) {
		unsigned k = (exits_next - i) % EXIT_CACHE;

		if (exits[k].pid == pid) {
			memcpy(comm, exits[k].comm, AL_COMM_LEN);
			return true;
		}
	}
	return false;
}

/* Is `pid` in the cgroup v2 directory of `a`? ("0::/x/y" in /proc/<pid>/cgroup) */
static bool in_cgroup(int pid, const struct al_agent_rec *a)
{
	char path[64], line[PATH_MAX + 8];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		size_t n, m = strlen(a->cgroup);

		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = 0;
		n = strlen(line + 3);
		/* the mount point prefixes the agent's path; compare the tail */
		found = n > 1 && n <= m && strcmp(a->cgroup + m - n, line + 3) == 0;
	}
	fclose(f);
	return found;
}

struct al_agent_rec *agent_of_pid(int pid)
{
	struct al_tracked t;
	__u32 key = pid;

	if (pid <= 0)
		return NULL;
	if (!bpf_map_lookup_elem(bpf->tracked_fd, &key, &t))
		return agent_by_no(t.agent);
	for (unsigned i = 0; i < EXIT_CACHE; i++)
		if (exits[i].pid == pid)
			return agent_by_no(exits[i].no);
	for (int i = 0; i < AL_MAX_AGENTS; i++)
		if (agents[i].used && in_cgroup(pid, &agents[i]))
			return &agents[i];
	return NULL;
}

static unsigned long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void kill_listed(int dirfd)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	int pid;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (fscanf(f, "%d", &pid) == 1)
		kill(pid, SIGKILL);
	fclose(f);
}

void agent_kill(struct al_agent_rec *a, const char *reason, int pid, unsigned long long event_ns,
		bool in_kernel)
{
	int fd = openat(a->cgroup_fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
	bool via_cgroup = fd >= 0 && write(fd, "1", 1) == 1;
	unsigned long long done;
	__u32 key, next, *prev = NULL, no = agent_no(a);
	struct jw w;

	if (fd >= 0)
		close(fd);
	if (!via_cgroup) /* cgroup.kill is Linux 5.14+ */
		kill_listed(a->cgroup_fd);
	/* processes that left the cgroup are still tracked */
	while (bpf_map_get_next_key(bpf->tracked_fd, prev, &next) == 0) {
		struct al_tracked t;

		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(bpf->tracked_fd, &key, &t) && t.agent == no)
			kill(key, SIGKILL);
	}
	done = mono_ns();
	if (a->killed)
		return;
	a->killed = true;
	jw_begin(&w);
	jw_str(&w, "event", "killed");
	jw_str(&w, "id", a->id);
	jw_str(&w, "reason", reason);
	jw_int(&w, "pid", pid);
	jw_bool(&w, "inKernel", in_kernel);
	jw_bool(&w, "cgroupKill", via_cgroup);
	jw_int(&w, "latencyNs", event_ns && done > event_ns ? (long long)(done - event_ns) : -1);
	jw_end(&w);
}
