// SPDX-License-Identifier: Apache-2.0
#include "kaudit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "agents.h"
#include "json.h"

#ifndef AUDIT_LANDLOCK_ACCESS
#define AUDIT_LANDLOCK_ACCESS 1423
#define AUDIT_LANDLOCK_DOMAIN 1424
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif

#define RECORD_MAX 8970 /* MAX_AUDIT_MESSAGE_LENGTH */
#define DOMAINS 1024
#define PENDING 64
#define SEEN 256

static unsigned seq;

static struct { unsigned long long id; __u32 agent; int creator; } domains[DOMAINS];
static unsigned domains_next;

static struct {
	bool used;
	unsigned long long domain;
	unsigned long long mono_ns; /* when the denial happened */
	unsigned age;               /* expiry ticks seen */
	char text[RECORD_MAX + 1];
} pending[PENDING];

/* records lately handled: while taking over from another loader one may come twice */
static struct { __u16 type; unsigned long long serial; } seen[SEEN];
static unsigned seen_next;

const char *kaudit_mode_name(enum kaudit_mode m)
{
	return m == KAUDIT_DAEMON ? "daemon" : m == KAUDIT_MULTICAST ? "multicast" : "off";
}

static unsigned long long clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void on_record(char *buf, ssize_t n, struct ring_buffer *rb, bool *drained);

/*
 * Sends one request and waits for its answer: the acknowledgement, or for
 * AUDIT_GET the status (sent from a kernel thread, so it may come after the
 * acknowledgement: GET is sent without NLM_F_ACK).
 */

static int request(int fd, __u16 type, const void *data, size_t len, struct audit_status *reply,
		   struct ring_buffer *rb)
{
	bool drained = false;
	char buf[RECORD_MAX + NLMSG_HDRLEN + 1] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	__u32 my_seq = ++seq;

	if (NLMSG_SPACE(len) > sizeof(buf))
		return -EINVAL;
	memset(buf, 0, NLMSG_SPACE(len));
	h->nlmsg_len = NLMSG_LENGTH(len);
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | (type == AUDIT_GET ? 0 : NLM_F_ACK);
	h->nlmsg_seq = my_seq;
	if (len)
		memcpy(NLMSG_DATA(h), data, len);
	if (sendto(fd, buf, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		h = (struct nlmsghdr *)buf;
		if ((size_t)n >= NLMSG_HDRLEN && h->nlmsg_seq != my_seq) {
			/* a record that came in meanwhile, not our answer: handled, never dropped */
			on_record(buf, n, rb, &drained);
			continue;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != my_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;

				if (err || type != AUDIT_GET)
					return err;
			} else if (h->nlmsg_type == AUDIT_GET && type == AUDIT_GET) {
				memcpy(reply, NLMSG_DATA(h), sizeof(*reply));
				return 0;
			}
		}
	}
}

static int set_status(struct kaudit *k, __u32 mask, __u32 value)
{
	struct audit_status s = { .mask = mask };

	if (mask == AUDIT_STATUS_ENABLED)
		s.enabled = value;
	else if (mask == AUDIT_STATUS_PID)
		s.pid = value;
	else if (mask == AUDIT_STATUS_BACKLOG_LIMIT)
		s.backlog_limit = value;
	return request(k->fd, AUDIT_SET, &s, sizeof(s), NULL, k->rb);
}

/* `-a task,never`: no audit context (and no per-syscall cost) for new processes. */
static int add_task_never_rule(struct kaudit *k)
{
	struct audit_rule_data r;

	memset(&r, 0, sizeof(r));
	r.flags = AUDIT_FILTER_TASK;
	r.action = AUDIT_NEVER;
	for (int i = 0; i < AUDIT_BITMASK_SIZE; i++)
		r.mask[i] = ~0U;
	return request(k->fd, AUDIT_ADD_RULE, &r, sizeof(r), NULL, k->rb);
}

/*
 * The audit settings as found, kept in a file while any loader runs, so the
 * last one to stop (or one started after a loader that died) puts them back.
 */
static const char *state_path(void)
{
	const char *p = getenv("AIRLOCK_BPF_AUDIT_STATE");

	return p ? p : "/run/airlock-bpf-audit.state";
}

static bool load_state(unsigned *enabled, unsigned *backlog)
{
	FILE *f = fopen(state_path(), "re");
	unsigned e, b;
	bool ok;

	if (!f)
		return false;
	ok = fscanf(f, "%u %u", &e, &b) == 2;
	if (ok) {
		*enabled = e;
		*backlog = b;
	}
	fclose(f);
	return ok;
}

static void save_state(unsigned enabled, unsigned backlog)
{
	FILE *f = fopen(state_path(), "we");

	if (!f)
		return;
	fprintf(f, "%u %u\n", enabled, backlog);
	fclose(f);
}

/*
 * Loaders running at once share the host's audit settings: each keeps a file
 * in <state>.users locked while it runs (a lock a dead loader cannot hold),
 * and joining, leaving and taking over happen under <state>.users/.lock.
 */
static void users_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s.users%s%s", state_path(), name ? "/" : "", name ? name : "");
}

static int users_lock(void)
{
	char path[PATH_MAX];
	int fd;

	users_path(path, sizeof(path), NULL);
	if (mkdir(path, 0700) && errno != EEXIST)
		return -1;
	users_path(path, sizeof(path), ".lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void users_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void users_join(struct kaudit *k)
{
	char path[PATH_MAX], name[16];

	snprintf(name, sizeof(name), "%d", getpid());
	users_path(path, sizeof(path), name);
	k->user_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (k->user_fd >= 0 && flock(k->user_fd, LOCK_EX | LOCK_NB)) {
		close(k->user_fd);
		k->user_fd = -1;
	}
}

static void users_leave(struct kaudit *k)
{
	char path[PATH_MAX], name[16];

	if (k->user_fd < 0)
		return;
	snprintf(name, sizeof(name), "%d", getpid());
	users_path(path, sizeof(path), name);
	unlink(path);
	close(k->user_fd);
	k->user_fd = -1;
}

/* Other loaders still running; the files of dead ones are removed. */
static int users_others(void)
{
	char path[PATH_MAX], own[16];
	struct dirent *e;
	int others = 0;
	DIR *d;

	users_path(path, sizeof(path), NULL);
	d = opendir(path);
	if (!d)
		return 0;
	snprintf(own, sizeof(own), "%d", getpid());
	while ((e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.' || strcmp(e->d_name, own) == 0)
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(dirfd(d), e->d_name, 0); /* its loader is gone */
		else
			others++;
		close(fd);
	}
	closedir(d);
	return others;
}

static void become_listener(struct kaudit *k, const char *why)
{
	int group = AUDIT_NLGRP_READLOG;

	if (setsockopt(k->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) == 0) {
		k->mode = KAUDIT_MULTICAST;
		snprintf(k->why, sizeof(k->why), "%s", why);
	} else {
		k->mode = KAUDIT_OFF;
		snprintf(k->why, sizeof(k->why), "%s; joining the audit read-log group: %s", why,
			 strerror(errno));
	}
}

/*
 * Registers as the audit daemon, enables audit with the task,never rule and
 * raises the backlog limit. The settings as first found stay in the state
 * file (a loader before us may have changed them already).
 */
static int become_daemon(struct kaudit *k, const struct audit_status *st)
{
	int err = set_status(k, AUDIT_STATUS_PID, getpid());

	if (err)
		return err;
	if (k->mode == KAUDIT_MULTICAST) {
		int group = AUDIT_NLGRP_READLOG;

		setsockopt(k->fd, SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, &group, sizeof(group));
	}
	k->mode = KAUDIT_DAEMON;
	k->changed = true;
	k->orig_enabled = st->enabled;
	k->orig_backlog = st->backlog_limit;
	if (!load_state(&k->orig_enabled, &k->orig_backlog))
		save_state(k->orig_enabled, k->orig_backlog);
	k->enabled = st->enabled != 0;
	if (!st->enabled && set_status(k, AUDIT_STATUS_ENABLED, 1) == 0)
		k->enabled = true;
	if (k->enabled && st->enabled != 2)
		add_task_never_rule(k); /* EEXIST: already there */
	if (st->backlog_limit < 8192)
		set_status(k, AUDIT_STATUS_BACKLOG_LIMIT, 8192);
	return 0;
}

static bool daemon_alive(const struct audit_status *st)
{
	return st->pid && (kill(st->pid, 0) == 0 || errno == EPERM);
}

void kaudit_open(struct kaudit *k, struct ring_buffer *rb)
{
	struct audit_status st = {};
	int size = 4 << 20, err, lock;

	memset(k, 0, sizeof(*k));
	k->rb = rb;
	k->user_fd = -1;
	k->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_AUDIT);
	if (k->fd < 0) {
		snprintf(k->why, sizeof(k->why), "no audit netlink socket: %s", strerror(errno));
		return;
	}
	/* a burst of denials must not overflow the socket before we read it */
	setsockopt(k->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	lock = users_lock();
	users_join(k);
	err = request(k->fd, AUDIT_GET, NULL, 0, &st, rb);
	if (err) {
		snprintf(k->why, sizeof(k->why), "reading the audit status: %s", strerror(-err));
		users_leave(k);
		users_unlock(lock);
		close(k->fd);
		k->fd = -1;
		return;
	}
	k->enabled = st.enabled != 0;
	if (daemon_alive(&st)) {
		become_listener(k, "an audit daemon runs: listening only");
	} else if ((err = become_daemon(k, &st))) {
		char why[128];

		snprintf(why, sizeof(why), "registering as audit daemon: %s", strerror(-err));
		become_listener(k, why);
	} else {
		snprintf(k->why, sizeof(k->why), "no audit daemon: records come to the loader");
	}
	users_unlock(lock);
}

void kaudit_watch(struct kaudit *k)
{
	struct audit_status st = {};
	int lock;

	if (k->mode != KAUDIT_MULTICAST)
		return;
	/* a separate socket: nothing that comes to ours is read past */
	if (kaudit_status(&k->enabled, (int *)&st.pid) || daemon_alive(&st))
		return;
	lock = users_lock();
	if (request(k->fd, AUDIT_GET, NULL, 0, &st, k->rb) == 0 && !daemon_alive(&st) &&
	    become_daemon(k, &st) == 0)
		snprintf(k->why, sizeof(k->why), "the audit daemon stopped: records come to the loader");
	users_unlock(lock);
}

int kaudit_status(bool *enabled, int *daemon_pid)
{
	struct audit_status st = {};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT), err;

	if (fd < 0)
		return -errno;
	err = request(fd, AUDIT_GET, NULL, 0, &st, NULL);
	close(fd);
	*enabled = st.enabled != 0;
	*daemon_pid = st.pid;
	return err;
}

void kaudit_close(struct kaudit *k)
{
	unsigned enabled = k->orig_enabled, backlog = k->orig_backlog;
	bool restore;
	int lock;

	if (k->fd < 0)
		return;
	lock = users_lock();
	users_leave(k);
	if (k->mode == KAUDIT_DAEMON)
		set_status(k, AUDIT_STATUS_PID, 0);
	/*
	 * The last loader out puts the settings back; while others run, audit
	 * stays enabled for them (one of them takes over as the daemon).
	 * The task,never rule stays: the kernel remembers that audit was once
	 * enabled, and without the rule every process forked from now on would
	 * take the audit slow path on each syscall. (auditd starts by deleting
	 * all rules, so it does not get in its way.)
	 */
	restore = users_others() == 0 && (load_state(&enabled, &backlog) || k->changed);
	if (restore) {
		if (enabled != 2) /* 2: locked, nothing was changed */
			set_status(k, AUDIT_STATUS_ENABLED, enabled);
		set_status(k, AUDIT_STATUS_BACKLOG_LIMIT, backlog);
		unlink(state_path());
	}
	users_unlock(lock);
	close(k->fd);
	k->fd = -1;
	k->mode = KAUDIT_OFF;
}

/* Copies the value of `name=` (a word, or a "quoted" string without its quotes). */
static bool field(const char *text, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	const char *p = text;

	while ((p = strstr(p, name))) {
		if ((p == text || p[-1] == ' ') && p[n] == '=') {
			const char *v = p + n + 1, *end;

			if (*v == '"')
				end = strchr(++v, '"');
			else
				end = v + strcspn(v, " \n\t");
			if (!end)
				end = v + strlen(v);
			if ((size_t)(end - v) >= outlen)
				return false;
			memcpy(out, v, end - v);
			out[end - v] = 0;
			return true;
		}
		p += n;
	}
	return false;
}

static long long field_int(const char *text, const char *name, int base)
{
	char v[32], *end;
	long long n;

	if (!field(text, name, v, sizeof(v)))
		return -1;
	n = strtoll(v, &end, base);
	return *end ? -1 : n;
}

/* "audit(1795613974.621:16): ..." → CLOCK_MONOTONIC estimate of that moment */
static unsigned long long record_mono_ns(const char *text)
{
	unsigned long long sec, ms, now_real = clock_ns(CLOCK_REALTIME), when;

	if (sscanf(text, "audit(%llu.%llu:", &sec, &ms) != 2)
		return 0;
	when = sec * 1000000000ULL + ms * 1000000ULL;
	if (when > now_real)
		when = now_real;
	return clock_ns(CLOCK_MONOTONIC) - (now_real - when);
}

static void report(struct al_agent_rec *a, const char *kind, int type, const char *pid_key, int pid,
		   bool denied, const char *text, unsigned long long mono_ns)
{
	struct jw w;

	jw_begin(&w);
	jw_str(&w, "event", "kaudit");
	jw_str(&w, "kind", kind);
	jw_int(&w, "type", type);
	jw_str(&w, "id", a->id);
	jw_int(&w, pid_key, pid);
	jw_bool(&w, "denied", denied);
	jw_str(&w, "record", text);
	jw_end(&w);
	if (denied && (a->cfg.flags & AL_AGENT_KILL))
		agent_kill(a, kind, pid, mono_ns, false);
}

static struct al_agent_rec *domain_agent(unsigned long long id, int *creator)
{
	for (unsigned i = 0; i < DOMAINS; i++)
		if (domains[i].agent && domains[i].id == id) {
			*creator = domains[i].creator;
			return agent_by_no(domains[i].agent);
		}
	return NULL;
}

static void on_landlock_access(const char *text)
{
	unsigned long long domain = (unsigned long long)field_int(text, "domain", 16);
	int creator = 0;
	struct al_agent_rec *a = domain_agent(domain, &creator);

	if (a) {
		report(a, "landlock", AUDIT_LANDLOCK_ACCESS, "domainPid", creator, true, text,
		       record_mono_ns(text));
		return;
	}
	/* the domain record naming its creator comes right after the first denial */
	for (int i = 0; i < PENDING; i++)
		if (!pending[i].used) {
			pending[i].used = true;
			pending[i].domain = domain;
			pending[i].mono_ns = record_mono_ns(text);
			pending[i].age = 0;
			snprintf(pending[i].text, sizeof(pending[i].text), "%s", text);
			return;
		}
}

static void on_landlock_domain(const char *text)
{
	unsigned long long domain = (unsigned long long)field_int(text, "domain", 16);
	char status[32];
	struct al_agent_rec *a;
	int pid;

	if (!field(text, "status", status, sizeof(status)))
		return;
	if (strcmp(status, "deallocated") == 0) {
		for (unsigned i = 0; i < DOMAINS; i++)
			if (domains[i].id == domain)
				domains[i].agent = 0;
		return;
	}
	if (strcmp(status, "allocated") != 0)
		return;
	pid = field_int(text, "pid", 10);
	a = agent_of_pid(pid);
	if (!a)
		return;
	domains[domains_next % DOMAINS].id = domain;
	domains[domains_next % DOMAINS].agent = a->cfg.agent;
	domains[domains_next % DOMAINS].creator = pid;
	domains_next++;
	for (int i = 0; i < PENDING; i++)
		if (pending[i].used && pending[i].domain == domain) {
			pending[i].used = false;
			report(a, "landlock", AUDIT_LANDLOCK_ACCESS, "domainPid", pid, true,
			       pending[i].text, pending[i].mono_ns);
		}
}

static void on_seccomp(const char *text)
{
	int pid = field_int(text, "pid", 10);
	long long code = field_int(text, "code", 16);
	struct al_agent_rec *a = agent_of_pid(pid);
	__u32 action = (__u32)code & SECCOMP_RET_ACTION_FULL;

	if (!a || code < 0)
		return;
	report(a, "seccomp", AUDIT_SECCOMP, "pid", pid,
	       action != SECCOMP_RET_ALLOW && action != SECCOMP_RET_LOG, text, record_mono_ns(text));
}

static bool seen_before(__u16 type, const char *text)
{
	unsigned long long serial;

	if (sscanf(text, "audit(%*u.%*u:%llu)", &serial) != 1)
		return false;
	for (unsigned i = 0; i < SEEN; i++)
		if (seen[i].serial == serial && seen[i].type == type)
			return true;
	seen[seen_next % SEEN].type = type;
	seen[seen_next % SEEN].serial = serial;
	seen_next++;
	return false;
}

/*
 * One record a datagram. Its nlmsg_len counts the payload only (a kernel
 * quirk auditd works around too), so the datagram's size is what counts.
 * `buf` has room for a NUL after the n bytes.
 */
static void on_record(char *buf, ssize_t n, struct ring_buffer *rb, bool *drained)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
	char *text = buf + NLMSG_HDRLEN;

	if ((size_t)n < NLMSG_HDRLEN)
		return;
	if (h->nlmsg_type != AUDIT_LANDLOCK_ACCESS && h->nlmsg_type != AUDIT_LANDLOCK_DOMAIN &&
	    h->nlmsg_type != AUDIT_SECCOMP)
		return;
	buf[n] = 0;
	if (seen_before(h->nlmsg_type, text))
		return;
	if (!*drained && rb) {
		/* exits of tracked processes must be known before attributing */
		ring_buffer__consume(rb);
		*drained = true;
	}
	if (h->nlmsg_type == AUDIT_LANDLOCK_ACCESS)
		on_landlock_access(text);
	else if (h->nlmsg_type == AUDIT_LANDLOCK_DOMAIN)
		on_landlock_domain(text);
	else
		on_seccomp(text);
}

void kaudit_read(struct kaudit *k)
{
	char buf[RECORD_MAX + NLMSG_HDRLEN + 1] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool drained = false;

	if (k->fd < 0)
		return;
	for (;;) {
		ssize_t n = recv(k->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		if (n <= 0)
			return;
		on_record(buf, n, k->rb, &drained);
	}
}

/*
 * Every record the kernel queued before now has been handled: a user message
 * of ours goes through the same queue (kauditd delivers in order), so once it
 * comes back, nothing logged before it is still on its way. Waits at most
 * `timeout_ms`; returns 0, or -ETIMEDOUT. Without audit enabled (Landlock
 * logs nothing then) there is nothing to wait for.
 */
int kaudit_barrier(struct kaudit *k, int timeout_ms)
{
	char buf[RECORD_MAX + NLMSG_HDRLEN + 1] __attribute__((aligned(NLMSG_ALIGNTO)));
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
	unsigned long long deadline = clock_ns(CLOCK_MONOTONIC) + timeout_ms * 1000000ULL;
	static unsigned barriers;
	char marker[48];
	bool drained = false;

	if (k->fd < 0 || k->mode == KAUDIT_OFF || !k->enabled)
		return 0;
	snprintf(marker, sizeof(marker), "airlock-barrier %d-%u", getpid(), ++barriers);
	if (request(k->fd, AUDIT_USER, marker, strlen(marker) + 1, NULL, k->rb))
		return 0; /* not sent (no CAP_AUDIT_WRITE): nothing to wait for */
	for (;;) {
		unsigned long long now = clock_ns(CLOCK_MONOTONIC);
		struct pollfd p = { .fd = k->fd, .events = POLLIN };
		ssize_t n;

		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000ULL) + 1) <= 0)
			return -ETIMEDOUT;
		while ((n = recv(k->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
			if ((size_t)n >= NLMSG_HDRLEN && h->nlmsg_type == AUDIT_USER) {
				buf[n] = 0;
				if (strstr(buf + NLMSG_HDRLEN, marker))
					return 0;
				continue;
			}
			on_record(buf, n, k->rb, &drained);
		}
	}
}

void kaudit_expire(struct kaudit *k)
{
	/* two timer ticks without a domain record: not one of our agents */
	for (int i = 0; i < PENDING; i++)
		if (pending[i].used && ++pending[i].age > 2)
			pending[i].used = false;
}
