// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "opens.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>

#include "agents.h"
#include "airlock_events.h"
#include "events.h"
#include "json.h"

/* 65536 / 24: up to ~10k events a batch */
#define OPENS_READS_PER_BATCH 4

static int group = -1;
static struct ring_buffer *ring;

int opens_open(struct ring_buffer *rb)
{
	ring = rb;
	group = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK,
			      O_RDONLY | O_LARGEFILE | O_CLOEXEC | O_NOATIME);
	return group >= 0 ? group : -errno;
}

void opens_close(void)
{
	if (group >= 0)
		close(group);
	group = -1;
}

/* 1: `pid` shares our mount namespace, 0: it has its own, -errno: cannot tell (refuse then). */
static int same_mount_ns(int pid)
{
	char path[64];
	struct stat mine, theirs;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	if (stat("/proc/self/ns/mnt", &mine) || stat(path, &theirs))
		return -errno;
	return mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = 0;
}

int opens_watch(int pid, char *why, size_t whylen)
{
	char path[PATH_MAX + 64], *line = NULL;
	size_t cap = 0;
	int err = 0, marked = 0;
	FILE *f;

	if (group < 0) {
		snprintf(why, whylen, "fanotify is not available");
		return -ENOSYS;
	}
	err = same_mount_ns(pid);
	if (err < 0) {
		snprintf(why, whylen, "the mount namespace of process %d: %s", pid, strerror(-err));
		return err;
	}
	if (err) {
		snprintf(why, whylen, "process %d shares the host's mount namespace: auditing its opens would tax the host",
			 pid);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return err;
	}
	/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 ..." : the fifth field */
	while (getline(&line, &cap, f) > 0) {
		char *mount_point = NULL, *save = NULL, *field = strtok_r(line, " ", &save);

		for (int i = 1; field && i < 5; i++)
			field = strtok_r(NULL, " ", &save);
		mount_point = field;
		if (!mount_point || mount_point[0] != '/')
			continue;
		unescape(mount_point);
		if ((size_t)snprintf(path, sizeof(path), "/proc/%d/root%s", pid, mount_point) >= sizeof(path)) {
			err = -ENAMETOOLONG;
			snprintf(why, whylen, "mount point too long: %.64s...", mount_point);
			break;
		}
		/* its own copy of the mount: the path resolves in the agent's namespace */
		if (fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_MOUNT | FAN_MARK_DONT_FOLLOW, FAN_OPEN,
				  AT_FDCWD, path) == 0) {
			marked++;
		} else if (errno != ENOENT && errno != ENOTDIR) {
			/* (ENOENT: a mount point under a masked folder, out of the agent's reach too) */
			err = -errno;
			snprintf(why, whylen, "marking %s: %s", mount_point, strerror(errno));
			break;
		}
	}
	free(line);
	fclose(f);
	if (!err && !marked) {
		snprintf(why, whylen, "process %d has no mounts to watch", pid);
		err = -ENOENT;
	}
	return err;
}

/* Its name now, or at its exit when it is gone (the batch may come after). */
static void read_comm(int pid, char *comm)
{
	char path[64];
	ssize_t n;
	int fd;

	if (agents_exited_comm(pid, comm))
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, comm, AL_COMM_LEN - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n > 0 && comm[n - 1] == '\n')
		n--;
	comm[n > 0 ? n : 0] = 0;
}

static void forward(const struct fanotify_event_metadata *m, struct al_agent_rec *a)
{
	struct al_open_event e;
	char link[64], target[PATH_MAX];
	struct timespec now;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return;
	target[n] = 0;
	memset(&e, 0, sizeof(e));
	clock_gettime(CLOCK_MONOTONIC, &now);
	e.hdr.op = AL_OP_OPEN;
	e.hdr.agent = a->cfg.agent;
	e.hdr.time_ns = now.tv_sec * 1000000000ULL + now.tv_nsec;
	e.task.pid = m->pid;
	e.task.tid = m->pid;
	read_comm(m->pid, e.task.comm);
	if ((size_t)n >= sizeof(e.path)) {
		e.task.flags |= AL_F_TRUNCATED;
		n = sizeof(e.path) - 1;
	}
	memcpy(e.path, target, n);
	e.path[n] = 0;
	e.hdr.size = offsetof(struct al_open_event, path) + n + 1;
	events_forward(&e, e.hdr.size);
}

void opens_read(bool all)
{
	static char buf[65536] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));

	if (group < 0)
		return;
	/*
	 * A batch reads what is queued, not what arrives while it is read: those
	 * wait for the next batch, where the kernel has merged the repeated ones.
	 */
	for (int reads = 0; all || reads < OPENS_READS_PER_BATCH; reads++) {
		ssize_t n = read(group, buf, sizeof(buf));
		const struct fanotify_event_metadata *m = (const void *)buf;

		if (n <= 0)
			return;
		/* exits of tracked processes must be known before attributing */
		ring_buffer__consume(ring);
		for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			struct al_agent_rec *a;

			if (m->vers != FANOTIFY_METADATA_VERSION)
				return;
			if (m->mask & FAN_Q_OVERFLOW) {
				events_add_lost(1);
				continue;
			}
			a = agent_of_pid(m->pid);
			if (a && (a->cfg.flags & AL_AGENT_AUDIT_ALLOWS))
				forward(m, a);
			if (m->fd >= 0)
				close(m->fd);
		}
	}
}
