/*
 * Decoding, copying and carrying out the metadata calls. The syscall numbers
 * and structs newer than Debian 12's headers are defined here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "calls.h"
#include "creds.h"

/* Newer than Debian 12's headers (arch/x86/entry/syscalls/syscall_64.tbl). */
#define NR_fchmodat2 452
#define NR_setxattrat 463
#define NR_removexattrat 466
#define NR_file_setattr 469

/* struct xattr_args of setxattrat (include/uapi/linux/xattr.h), its first size. */
struct xattr_args_v0 {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

static void at_flags(struct call *c, __u64 flags)
{
	if (flags & ~(__u64)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		c->errno_now = EINVAL;
	c->follow = !(flags & AT_SYMLINK_NOFOLLOW);
	c->empty_path = !!(flags & AT_EMPTY_PATH);
}

int call_decode(const struct seccomp_data *d, struct call *c)
{
	const __u64 *a = d->args;
	memset(c, 0, sizeof(*c));
	c->follow = 1;
	c->fd = AT_FDCWD;
	switch (d->nr) {
	case SYS_chmod:
	case SYS_chown:
	case SYS_lchown:
		c->syscall = d->nr == SYS_chmod ? "chmod" : d->nr == SYS_chown ? "chown" : "lchown";
		c->operation = d->nr == SYS_chmod ? "chmod" : "chown";
		c->path = a[0];
		c->follow = d->nr != SYS_lchown;
		return 0;
	case SYS_fchmod:
	case SYS_fchown:
		c->syscall = d->nr == SYS_fchmod ? "fchmod" : "fchown";
		c->operation = d->nr == SYS_fchmod ? "chmod" : "chown";
		c->by_fd = 1;
		c->fd = (int)a[0];
		return 0;
	case SYS_fchmodat:
	case NR_fchmodat2:
		c->syscall = d->nr == SYS_fchmodat ? "fchmodat" : "fchmodat2";
		c->operation = "chmod";
		c->fd = (int)a[0];
		c->path = a[1];
		if (d->nr == NR_fchmodat2)
			at_flags(c, a[3]);
		return 0;
	case SYS_fchownat:
	case NR_file_setattr:
		c->syscall = d->nr == SYS_fchownat ? "fchownat" : "file_setattr";
		c->operation = d->nr == SYS_fchownat ? "chown" : "setattr";
		c->fd = (int)a[0];
		c->path = a[1];
		at_flags(c, a[4]);
		return 0;
	case SYS_ioctl: /* only the inode-flag requests reach us (the filter looks at the request) */
		c->syscall = "ioctl";
		c->operation = "setattr";
		c->by_fd = 1;
		c->fd = (int)a[0];
		return 0;
	case SYS_utime:
	case SYS_utimes:
		c->syscall = d->nr == SYS_utime ? "utime" : "utimes";
		c->path = a[0];
		c->times = a[1];
		break;
	case SYS_futimesat:
		c->syscall = "futimesat";
		c->fd = (int)a[0];
		c->path = a[1];
		c->times = a[2];
		c->by_fd = !c->path && c->fd != AT_FDCWD;
		break;
	case SYS_utimensat:
		c->syscall = "utimensat";
		c->fd = (int)a[0];
		c->path = a[1];
		c->times = a[2];
		c->utimensat = 1;
		at_flags(c, a[3]);
		if (!c->path && c->fd != AT_FDCWD) {
			c->by_fd = 1;
			if (a[3])
				c->errno_now = EINVAL;
		}
		break;
	case SYS_setxattr:
	case SYS_lsetxattr:
	case SYS_fsetxattr:
		c->syscall = d->nr == SYS_setxattr ? "setxattr" : d->nr == SYS_lsetxattr ? "lsetxattr" : "fsetxattr";
		c->operation = "setxattr";
		c->apply = SETXATTR;
		c->by_fd = d->nr == SYS_fsetxattr;
		if (c->by_fd)
			c->fd = (int)a[0];
		else
			c->path = a[0];
		c->follow = d->nr == SYS_setxattr;
		c->name = a[1];
		c->value = a[2];
		c->size = a[3];
		c->xflags = (int)a[4];
		return 0;
	case SYS_removexattr:
	case SYS_lremovexattr:
	case SYS_fremovexattr:
		c->syscall = d->nr == SYS_removexattr ? "removexattr" : d->nr == SYS_lremovexattr ? "lremovexattr" : "fremovexattr";
		c->operation = "removexattr";
		c->apply = REMOVEXATTR;
		c->by_fd = d->nr == SYS_fremovexattr;
		if (c->by_fd)
			c->fd = (int)a[0];
		else
			c->path = a[0];
		c->follow = d->nr == SYS_removexattr;
		c->name = a[1];
		return 0;
	case NR_setxattrat:
	case NR_removexattrat:
		c->syscall = d->nr == NR_setxattrat ? "setxattrat" : "removexattrat";
		c->operation = d->nr == NR_setxattrat ? "setxattr" : "removexattr";
		c->apply = d->nr == NR_setxattrat ? SETXATTR : REMOVEXATTR;
		c->fd = (int)a[0];
		c->path = a[1];
		at_flags(c, a[2]);
		c->name = a[3];
		c->args = d->nr == NR_setxattrat ? a[4] : 0;
		c->size = d->nr == NR_setxattrat ? a[5] : 0;
		return 0;
	default:
		c->syscall = "unknown";
		c->operation = "metadata";
		return -1;
	}
	/* The utimes family: setting both times to now needs only write permission, so init applies it. */
	c->operation = "utimes";
	c->apply = c->times && !c->utimensat ? CONTINUE : UTIMES;
	return 0;
}


int call_copy_args(struct agent_task *t, struct call *c, struct copied *k)
{
	k->now = !c->times;
	if (c->apply == UTIMES && c->times) {
		if (agent_read(t, c->times, k->ts, sizeof(k->ts)))
			return EFAULT;
		if (k->ts[0].tv_nsec == UTIME_OMIT && k->ts[1].tv_nsec == UTIME_OMIT)
			return -1; /* the kernel does nothing, not even look at the path */
	}
	if (c->apply != SETXATTR && c->apply != REMOVEXATTR)
		return 0;
	if (agent_string(t, c->name, k->name, sizeof(k->name), ERANGE))
		return errno;
	if (!k->name[0])
		return ERANGE;
	if (c->args) { /* setxattrat: struct xattr_args, possibly a larger version (zeros beyond) */
		struct xattr_args_v0 args;
		char tail[256];
		if (c->size < sizeof(args))
			return EINVAL;
		if (c->size > (size_t)sysconf(_SC_PAGESIZE))
			return E2BIG;
		if (agent_read(t, c->args, &args, sizeof(args)))
			return EFAULT;
		for (size_t at = sizeof(args); at < c->size; at += sizeof(tail)) {
			size_t n = c->size - at < sizeof(tail) ? c->size - at : sizeof(tail);
			if (agent_read(t, c->args + at, tail, n))
				return EFAULT;
			for (size_t i = 0; i < n; i++) {
				if (tail[i])
					return E2BIG;
			}
		}
		c->value = args.value;
		c->size = args.size;
		c->xflags = (int)args.flags;
	}
	if (c->apply == SETXATTR) {
		if (c->size > XATTR_SIZE_MAX)
			return E2BIG;
		k->value = malloc(c->size ? c->size : 1);
		if (!k->value)
			return ENOMEM;
		if (c->size && agent_read(t, c->value, k->value, c->size))
			return EFAULT;
	}
	return 0;
}

int call_target(struct agent_task *t, const struct call *c, int *as_fd)
{
	*as_fd = c->by_fd;
	if (c->by_fd)
		return agent_fd(t, c->fd);
	if (!c->path && !c->empty_path)
		return -EFAULT;
	char path[PATH_MAX];
	if (!c->path)
		path[0] = '\0';
	else if (agent_string(t, c->path, path, sizeof(path), ENAMETOOLONG))
		return -errno;
	if (path[0])
		return agent_resolve(t, c->fd, path, c->follow);
	if (!c->empty_path)
		return -ENOENT;
	/* AT_EMPTY_PATH: the descriptor itself; the xattr calls take it as a descriptor (AT_FDCWD is none: EBADF). */
	*as_fd = c->apply == SETXATTR || c->apply == REMOVEXATTR;
	if (c->fd == AT_FDCWD && !*as_fd)
		return agent_cwd(t);
	return agent_fd(t, c->fd);
}

int call_apply(struct agent_task *t, const struct call *c, int fd, int as_fd, const struct copied *k)
{
	char magic[32];
	snprintf(magic, sizeof(magic), "/proc/self/fd/%d", fd); /* init's own: the very object judged */
	const struct timespec *ts = k->now ? NULL : k->ts;
	long r = 0;
	creds_agent(t->uid, t->gid);
	if (c->apply == UTIMES)
		r = as_fd ? futimens(fd, ts) : utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	else if (c->apply == SETXATTR)
		r = as_fd ? fsetxattr(fd, k->name, k->value, c->size, c->xflags) : setxattr(magic, k->name, k->value, c->size, c->xflags);
	else if (c->apply == REMOVEXATTR)
		r = as_fd ? fremovexattr(fd, k->name) : removexattr(magic, k->name);
	int e = errno;
	creds_root();
	return r < 0 ? e : 0;
}
