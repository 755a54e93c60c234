/*
 * Serving seccomp notifications in init. For each call: its arguments are
 * copied out of the agent's memory, the notification is checked to be still
 * valid (SECCOMP_IOCTL_NOTIF_ID_VALID: the task may have died and its tid
 * been reused), the target is resolved with the agent's own ids, and judged.
 *
 * A call judged inside a write path either goes on (CONTINUE) or is carried
 * out by init itself (calls.h):
 *  - CONTINUE makes the kernel resolve the path (or descriptor) once more,
 *    so a symlink swapped (or a descriptor dup2()ed) in between could send it
 *    elsewhere. That is safe where file permissions stand in the way anyway:
 *    chmod, chown, explicit times, inode flags, ACLs need the file's owner (or
 *    capabilities the agent lacks), and the agent's uid owns nothing outside
 *    its write paths (uid_pool.h).
 *  - Setting times to now and user.* extended attributes only need write
 *    permission, which a world-writable file outside grants; so do the
 *    utimensat and xattr calls, whose arguments (times, names) the agent can
 *    change after we read them. Those init applies itself, with the agent's
 *    ids and no capabilities, to the very object it judged, with the copied
 *    arguments, and answers with the kernel's result: nothing is resolved
 *    twice.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/limits.h>
#include <linux/seccomp.h>

#include "calls.h"
#include "common.h"
#include "creds.h"
#include "notify.h"

#define die(...) fail(EXIT_NOTIFY, "notify", __VA_ARGS__)

struct notify_server {
	const struct launch_spec *spec;
	int pair[2]; /* [0] init's end, [1] the agent's */
	int listener;
	int report;
	int host_proc;
	char **writable; /* canonical */
	size_t n_writable;
	int killed;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	size_t req_size, resp_size;
};

struct notify_server *notify_prepare(const struct launch_spec *spec, int report_fd, int host_proc)
{
	if (!spec->notify)
		return NULL;
	struct notify_server *s = calloc(1, sizeof(*s));
	if (!s || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s->pair))
		fail(EXIT_NAMESPACE, "notify", "socketpair: %s", s ? strerror(errno) : "out of memory");
	s->spec = spec;
	s->listener = -1;
	s->report = report_fd;
	s->host_proc = fcntl(host_proc, F_DUPFD_CLOEXEC, 3);
	if (s->host_proc < 0)
		fail(EXIT_NAMESPACE, "notify", "dup: %s", strerror(errno));
	return s;
}

int notify_agent_end(struct notify_server *s)
{
	if (!s)
		return -1;
	close(s->pair[0]);
	return s->pair[1];
}

size_t notify_init_fds(const struct notify_server *s, int *fds, size_t max)
{
	if (!s)
		return 0;
	if (max < 3)
		die("too many descriptors to keep");
	fds[0] = s->pair[0];
	fds[1] = s->report;
	fds[2] = s->host_proc;
	return 3;
}

void notify_start(struct notify_server *s)
{
	close(s->pair[1]);
	launch_ctl_fd = s->report; /* a failure of init's reaches the enforcer as "error <code> <stage> <reason>" */
	creds_init();
	struct seccomp_notif_sizes sizes;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes))
		die("notification sizes: %s", strerror(errno));
	s->req_size = sizes.seccomp_notif > sizeof(*s->req) ? sizes.seccomp_notif : sizeof(*s->req);
	s->resp_size = sizes.seccomp_notif_resp > sizeof(*s->resp) ? sizes.seccomp_notif_resp : sizeof(*s->resp);
	s->req = malloc(s->req_size);
	s->resp = malloc(s->resp_size);
	s->writable = calloc(s->spec->n_writable + 1, sizeof(*s->writable));
	if (!s->req || !s->resp || !s->writable)
		die("out of memory");
	for (size_t i = 0; i < s->spec->n_writable; i++) {
		char *name = canonical_path(s->spec->writable[i]);
		if (name)
			s->writable[s->n_writable++] = name; /* a write path that does not exist grants nothing */
	}
}

int notify_fd(const struct notify_server *s)
{
	return s->listener >= 0 ? s->listener : s->pair[0];
}

void notify_hand_over(int sock, int listener)
{
	char byte = 0;
	struct iovec iov = {&byte, 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &listener, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
		fail(EXIT_SECCOMP, "seccomp", "handing the listener to init: %s", strerror(errno));
	close(listener);
	close(sock);
}

static void take_listener(struct notify_server *s)
{
	char byte;
	struct iovec iov = {&byte, 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
	ssize_t n = recvmsg(s->pair[0], &msg, MSG_CMSG_CLOEXEC);
	if (n < 0 && errno == EINTR)
		return;
	struct cmsghdr *cm = n == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&s->listener, CMSG_DATA(cm), sizeof(int));
	close(s->pair[0]);
	s->pair[0] = -1; /* without a listener (the agent stopped before exec) there is nothing to serve */
}

/* ------------------------------------------------------------ the verdicts */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void encode(char *out, size_t len, const char *text)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p && o + 4 < len; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '%')
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, len - o, "%%%02x", *p);
	}
	out[o] = '\0';
}

/* The task's process as the host numbers it: its thread group leader's pidfd, read through the host's /proc. */
static long host_pid(struct notify_server *s, pid_t tid)
{
	char path[64], text[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
	if (fd >= 0)
		close(fd);
	char *tgid = n > 0 ? (text[n] = '\0', strstr(text, "\nTgid:")) : NULL;
	if (!tgid)
		return 0;
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)atoi(tgid + 6), 0);
	if (pidfd < 0)
		return 0;
	snprintf(path, sizeof(path), "self/fdinfo/%d", pidfd);
	fd = openat(s->host_proc, path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
	if (fd >= 0)
		close(fd);
	close(pidfd);
	char *pid = n > 0 ? (text[n] = '\0', strstr(text, "\nPid:")) : NULL;
	return pid ? atol(pid + 5) : 0;
}

static void report(struct notify_server *s, const struct call *c, pid_t tid, const char *target, uint64_t started)
{
	char exe[PATH_MAX], link[64], enc_exe[3 * PATH_MAX], enc_target[3 * PATH_MAX], line[7 * PATH_MAX];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)tid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	encode(enc_exe, sizeof(enc_exe), n > 0 ? exe : "-");
	encode(enc_target, sizeof(enc_target), target);
	int len = snprintf(line, sizeof(line), "violation %s %s %ld %s %llu %s %s\n", c->syscall, c->operation, host_pid(s, tid),
			   s->spec->kill_on_violation ? "kill" : "deny", (unsigned long long)(now_ns() - started), enc_exe, enc_target);
	for (char *p = line; len > 0;) {
		ssize_t w = write(s->report, p, (size_t)len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the enforcer is gone: it ends the agent itself */
		p += w;
		len -= (int)w;
	}
}

/* Answers `id`: CONTINUE (error 0 and continue), or val/error. */
static void answer(struct notify_server *s, uint64_t id, int error, int go_on)
{
	memset(s->resp, 0, s->resp_size);
	s->resp->id = id;
	s->resp->error = -error;
	s->resp->flags = go_on ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SEND, s->resp) && errno != ENOENT)
		die("answering a call: %s", strerror(errno));
}

static void handle(struct notify_server *s)
{
	uint64_t started = now_ns();
	struct seccomp_notif *n = s->req;
	struct agent_task t = {.tid = (pid_t)n->pid, .pidfd = -1, .uid = s->spec->uid, .gid = s->spec->gid};
	struct call c;
	struct copied k = {0};
	char name[PATH_MAX];
	int fd = -1, as_fd = 0, error = 0;
	enum { ANSWER, GO_ON, APPLY, VIOLATION } verdict = ANSWER;
	if (s->killed) {
		error = EPERM; /* the namespace is being killed: nothing more runs */
	} else if (call_decode(&n->data, &c)) {
		snprintf(name, sizeof(name), "syscall %d", n->data.nr);
		verdict = VIOLATION; /* a call this check does not know is refused */
	} else if (c.errno_now) {
		error = c.errno_now;
	} else if ((error = call_copy_args(&t, &c, &k)) != 0) {
		error = error < 0 ? 0 : error;
	} else if ((fd = call_target(&t, &c, &as_fd)) < 0) {
		error = -fd;
	} else if (!within_write_paths(fd, s->writable, s->n_writable, name, sizeof(name))) {
		verdict = VIOLATION;
	} else {
		verdict = c.apply == CONTINUE ? GO_ON : APPLY;
	}
	/* What was read from the task (memory, descriptors, /proc/<tid>) is its own only if it still waits. */
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n->id) == 0) {
		switch (verdict) {
		case ANSWER:
			answer(s, n->id, error, 0);
			break;
		case GO_ON:
			answer(s, n->id, 0, 1);
			break;
		case APPLY:
			answer(s, n->id, call_apply(&t, &c, fd, as_fd, &k), 0);
			break;
		case VIOLATION:
			report(s, &c, t.tid, name, started);
			if (s->spec->kill_on_violation) {
				s->killed = 1;
				kill(-1, SIGKILL); /* every process of the namespace but init: the call never returns */
			} else {
				answer(s, n->id, EPERM, 0);
			}
			break;
		}
	}
	if (fd >= 0)
		close(fd);
	if (t.pidfd >= 0)
		close(t.pidfd);
	free(k.value);
}

void notify_serve(struct notify_server *s, short revents)
{
	if (s->listener < 0) {
		take_listener(s);
		return;
	}
	if (!(revents & POLLIN)) { /* every task with the filter is gone */
		close(s->listener);
		s->listener = -1;
		return;
	}
	memset(s->req, 0, s->req_size);
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, s->req)) {
		if (errno == EINTR || errno == ENOENT)
			return; /* interrupted, or the caller died meanwhile */
		die("receiving a call: %s", strerror(errno));
	}
	handle(s);
}
