/* Landlock: ABI probe, ruleset construction with protected-root checks, enforcement. */
#ifndef AIRLOCK_LAUNCH_LANDLOCK_H
#define AIRLOCK_LAUNCH_LANDLOCK_H

#include "spec.h"

/* The host's Landlock ABI version; 0 when Landlock is off or absent. */
int landlock_abi(void);

/*
 * Creates the ruleset and adds every rule (paths opened now, as root, in the
 * agent's mount namespace). Refuses with EXIT_PROTECTED when a rule's inode
 * is a protected root, one of its ancestors, or lies beneath one.
 * Returns the ruleset fd.
 */
int landlock_build(const struct launch_spec *spec);

/* Restricts the calling thread (needs no_new_privs) and closes the ruleset fd. */
void landlock_enforce(int ruleset_fd, uint32_t flags);

#endif
