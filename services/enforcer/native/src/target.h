/*
 * What a metadata call of the agent aims at, found by init as the agent would
 * find it, and whether it lies within the agent's write paths.
 */
#ifndef AIRLOCK_LAUNCH_TARGET_H
#define AIRLOCK_LAUNCH_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The task that made the call (numbered in the agent's PID namespace, init's own) and the agent's ids. */
struct agent_task {
	pid_t tid;
	int pidfd; /* opened on first need, -1 before */
	uid_t uid;
	gid_t gid;
};

/* Copies `len` bytes at `addr` of the task: 0, or -1 with errno EFAULT. */
int agent_read(struct agent_task *a, uint64_t addr, void *buf, size_t len);

/* Copies the NUL-terminated string at `addr`, at most `max` bytes with its NUL: 0, or -1 with EFAULT, or with `too_long` when it has no NUL within `max`. */
int agent_string(struct agent_task *a, uint64_t addr, char *buf, size_t max, int too_long);

/* The task's descriptor `fd` as a descriptor of ours to the same open file (pidfd_getfd): it, or -errno. */
int agent_fd(struct agent_task *a, int fd);

/*
 * Opens (O_PATH) what `path` names for the task: relative to its descriptor
 * `dirfd` or its working directory (AT_FDCWD), its root for an absolute path;
 * a trailing symlink followed or not. Looked up with the agent's ids, so the
 * kernel's search permissions are the agent's; the descriptor, or -errno.
 */
int agent_resolve(struct agent_task *a, int dirfd, const char *path, int follow);

/* The task's working directory as an O_PATH descriptor of ours, or -errno. */
int agent_cwd(struct agent_task *a);

/*
 * Is the object of `fd` beneath one of the (canonical) write paths, or
 * reachable by no path at all (unlinked, a pipe, a socket ...: nothing outside
 * changes through it)? 1 or 0; its path (as the kernel names it now) goes to
 * `name`. An object whose name no longer leads back to it is outside.
 */
int within_write_paths(int fd, char *const *writable, size_t n, char *name, size_t len);

/* The canonical form of a write path (symlinks resolved), or NULL when it does not exist. */
char *canonical_path(const char *path);

#endif
