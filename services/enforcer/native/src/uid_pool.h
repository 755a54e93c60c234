/*
 * The agent's own uid (its gid is the same number), unique on the host while
 * it runs, so that no file outside its write paths is ever its own: then
 * file permissions refuse it chmod, chown, explicit times and ACLs there,
 * whatever Landlock (which has no rights for them) lets through.
 *
 * It is the lowest uid of the spec's pool whose lock file DIR/<uid> no one
 * holds: an flock() on that file, taken by the launcher (the process the
 * enforcer watches) and kept until the agent's tree is gone and its write
 * paths are handed back. The kernel drops the lock when the launcher dies,
 * however it dies, so a crashed run never keeps a uid. The file records the
 * paths the uid may own (own and disown); whoever next locks a file that still
 * holds a record - its holder died before handing them back - hands them back
 * first. A released uid's file is removed while still locked: a racer that had
 * it open checks, once it holds the lock, that it is still the file of that name.
 */
#ifndef AIRLOCK_LAUNCH_UID_POOL_H
#define AIRLOCK_LAUNCH_UID_POOL_H

#include <stddef.h>

#include "spec.h"

struct uid_lease {
	int dir;      /* the pool's folder, -1 for fixed ids */
	int slot;     /* the locked DIR/<uid> */
	int *locks;   /* own paths that are folders, flock()ed: one running agent a workspace */
	size_t n_locks;
};

/*
 * With a pool: picks the agent's uid (into spec->uid and spec->gid), locks
 * its own paths and makes what the resting owner (or a pool uid, left by a
 * crashed run) owns there the agent's. EXIT_IDS when no uid is free or an own
 * path is another running agent's. With fixed ids: nothing.
 */
void uid_claim(struct launch_spec *spec, struct uid_lease *lease);

/* Once the agent's tree is gone: hands its own and disown paths back to the resting owner and frees the uid. */
void uid_release(const struct launch_spec *spec, struct uid_lease *lease);

/* The descriptors the lease holds open (the launcher keeps them while it waits). */
size_t uid_lease_fds(const struct uid_lease *lease, int *fds, size_t max);

#endif
