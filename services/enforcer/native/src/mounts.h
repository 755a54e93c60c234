/* The agent's mount namespace: its own /proc, its private /tmp, the masks. */
#ifndef AIRLOCK_LAUNCH_MOUNTS_H
#define AIRLOCK_LAUNCH_MOUNTS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * New mount namespace (every mount a slave of the host's: host mounts still
 * reach it, its own never reach the host); on /proc a fresh procfs of the
 * caller's PID namespace showing only the processes the reader may ptrace
 * and nothing system-wide (hidepid=invisible, subset=pid); optionally an
 * empty tmpfs owned by uid:gid on private_tmp. Must run as pid 1 of the
 * agent's PID namespace (a procfs shows the namespace of its mounter).
 * Returns an O_PATH descriptor of the procfs it covered (the host's).
 */
int agent_mounts(const char *private_tmp, uid_t uid, gid_t gid);

/* Covers each path with an empty read-only tmpfs (a missing path masks nothing). */
void mask_paths(char *const *paths, size_t n);

#endif
