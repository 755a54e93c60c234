/*
 * One metadata call of the agent, as init sees it: which syscall, what it
 * aims at (a path relative to a descriptor or the working directory, or a
 * descriptor), and how init carries it out when it is allowed (notify.c).
 */
#ifndef AIRLOCK_LAUNCH_CALLS_H
#define AIRLOCK_LAUNCH_CALLS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <linux/limits.h>
#include <linux/seccomp.h>

#include "target.h"

/* How an allowed call is carried out. */
enum apply { CONTINUE, UTIMES, SETXATTR, REMOVEXATTR };

struct call {
	const char *syscall, *operation;
	int by_fd;      /* the target is the agent's descriptor `fd` */
	int fd;         /* that descriptor, or the directory of a relative path (AT_FDCWD: its cwd) */
	uint64_t path;  /* address of the path, 0 for none */
	int follow;
	int empty_path; /* AT_EMPTY_PATH: an empty path names `fd` itself */
	enum apply apply;
	int errno_now;  /* answered without looking (bad flags ...), 0 otherwise */
	uint64_t times; /* utimes family: their address, 0 for now */
	int utimensat;  /* times are two struct timespec (else: timeval or utimbuf) */
	uint64_t name, value, args;
	size_t size;
	int xflags;
};

/* The copied arguments of a call init carries out itself. */
struct copied {
	struct timespec ts[2];
	int now; /* times NULL */
	char name[XATTR_NAME_MAX + 1];
	char *value;
};

/* What the call is and what it aims at; 0, or -1 for a syscall this check does not know (refused). */
int call_decode(const struct seccomp_data *d, struct call *c);

/* Copies what init needs to carry the call out; 0, or an errno to answer with (-1: nothing to do, answer 0). */
int call_copy_args(struct agent_task *t, struct call *c, struct copied *k);

/*
 * What the call aims at, as a descriptor of ours, or -errno. `as_fd`: it is
 * one of the agent's descriptors, which the kernel would take as a file
 * descriptor (not a path) for this call.
 */
int call_target(struct agent_task *t, const struct call *c, int *as_fd);

/* Carries out an allowed call on `fd` with the agent's ids: 0 or an errno. */
int call_apply(struct agent_task *t, const struct call *c, int fd, int as_fd, const struct copied *k);

#endif
