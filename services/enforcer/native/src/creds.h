/*
 * Init acts for the agent while it resolves and applies a metadata call: the
 * agent's fs uid and gid, no supplementary groups, no capability in effect,
 * so the kernel's own permission checks are the ones the agent would meet.
 */
#ifndef AIRLOCK_LAUNCH_CREDS_H
#define AIRLOCK_LAUNCH_CREDS_H

#include <sys/types.h>

/* Once, in init: drops supplementary groups, remembers the capabilities to take back. */
void creds_init(void);

/* Acts as uid/gid with no capability in effect (verified; EXIT_NOTIFY otherwise). */
void creds_agent(uid_t uid, gid_t gid);

/* Back to root with the capabilities init had. */
void creds_root(void);

#endif
