/*
 * Init reads the agent's memory with process_vm_readv and takes its
 * descriptors with pidfd_getfd (both need what root has: ptrace rights over
 * the task). Init's /proc is the agent's own procfs, so /proc/<tid> names the
 * task; "/proc/self" in the agent's path means the agent, not init, and is
 * rewritten; its magic links (fd/N, cwd, root) are opened as root, like the
 * kernel follows them for the task itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "creds.h"
#include "target.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

int agent_read(struct agent_task *a, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
	if (len == 0)
		return 0;
	if (process_vm_readv(a->tid, &local, 1, &remote, 1, 0) != (ssize_t)len) {
		errno = EFAULT;
		return -1;
	}
	return 0;
}

int agent_string(struct agent_task *a, uint64_t addr, char *buf, size_t max, int too_long)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t got = 0;
	/* A page at a time: the string may end just before an unmapped page. */
	while (got < max) {
		size_t chunk = (size_t)page - ((addr + got) & (uint64_t)(page - 1));
		if (chunk > max - got)
			chunk = max - got;
		if (agent_read(a, addr + got, buf + got, chunk))
			return -1;
		if (memchr(buf + got, '\0', chunk))
			return 0;
		got += chunk;
	}
	errno = too_long;
	return -1;
}

int agent_fd(struct agent_task *a, int fd)
{
	if (a->pidfd < 0) {
		a->pidfd = (int)syscall(SYS_pidfd_open, a->tid, PIDFD_THREAD);
		if (a->pidfd < 0)
			return -errno;
	}
	int ours = (int)syscall(SYS_pidfd_getfd, a->pidfd, fd, 0);
	return ours < 0 ? -errno : ours;
}

static int open_proc(pid_t tid, const char *what, int flags)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/%d/%s", (int)tid, what);
	int fd = open(link, O_PATH | O_CLOEXEC | flags);
	return fd < 0 ? -errno : fd;
}

int agent_cwd(struct agent_task *a)
{
	return open_proc(a->tid, "cwd", O_DIRECTORY);
}

/* Length of a leading "fd/<n>", "cwd" or "root" component (a magic link of the task), else 0. */
static size_t magic_link(const char *p)
{
	size_t n = 0;
	if (!strncmp(p, "fd/", 3) && p[3] >= '0' && p[3] <= '9') {
		for (n = 3; p[n] >= '0' && p[n] <= '9'; n++)
			;
	} else if (!strncmp(p, "cwd", 3)) {
		n = 3;
	} else if (!strncmp(p, "root", 4)) {
		n = 4;
	}
	return p[n] == '\0' || p[n] == '/' ? n : 0;
}

int agent_resolve(struct agent_task *a, int dirfd, const char *path, int follow)
{
	char rewritten[PATH_MAX + 64];
	int base = AT_FDCWD;
	const char *rest = path;
	const char *self = !strncmp(path, "/proc/self", 10) ? path + 10 : !strncmp(path, "/proc/thread-self", 17) ? path + 17 : NULL;
	if (self && (*self == '\0' || *self == '/')) {
		const char *tail = self + (*self == '/');
		size_t n = magic_link(tail);
		if (n) {
			char what[32];
			snprintf(what, sizeof(what), "%.*s", (int)n, tail);
			for (tail += n; *tail == '/'; tail++)
				;
			/* The link itself when it is the last component and not followed. */
			base = open_proc(a->tid, what, *tail || follow ? 0 : O_NOFOLLOW);
			if (base < 0 || !*tail)
				return base;
			rest = tail;
		} else {
			snprintf(rewritten, sizeof(rewritten), "/proc/%d%s", (int)a->tid, self);
			rest = rewritten;
		}
	} else if (path[0] != '/') {
		base = dirfd == AT_FDCWD ? agent_cwd(a) : agent_fd(a, dirfd);
		if (base < 0)
			return base;
	}
	creds_agent(a->uid, a->gid);
	int fd = openat(base, rest, O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	int e = errno;
	creds_root();
	if (base >= 0)
		close(base);
	return fd < 0 ? -e : fd;
}

static int beneath(const char *name, const char *root)
{
	size_t n = strlen(root);
	if (n == 1)
		return 1; /* "/" */
	return !strncmp(name, root, n) && (name[n] == '\0' || name[n] == '/');
}

int within_write_paths(int fd, char *const *writable, size_t n, char *name, size_t len)
{
	struct stat st, named;
	char link[32];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t got = readlink(link, name, len - 1);
	if (fstat(fd, &st) || got <= 0) {
		snprintf(name, len, "?");
		return 0;
	}
	name[got] = '\0';
	if (st.st_nlink == 0 || name[0] != '/')
		return 1;
	/* The name must still lead to this very object: not renamed meanwhile, not "... (deleted)". */
	struct open_how how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int again = (int)syscall(SYS_openat2, AT_FDCWD, name, &how, sizeof(how));
	int same = again >= 0 && fstat(again, &named) == 0 && named.st_dev == st.st_dev && named.st_ino == st.st_ino;
	if (again >= 0)
		close(again);
	for (size_t i = 0; same && i < n; i++) {
		if (beneath(name, writable[i]))
			return 1;
	}
	return 0;
}

char *canonical_path(const char *path)
{
	char link[32], name[PATH_MAX];
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t got = readlink(link, name, sizeof(name) - 1);
	close(fd);
	if (got <= 0 || name[0] != '/')
		return NULL;
	name[got] = '\0';
	return strdup(name);
}
