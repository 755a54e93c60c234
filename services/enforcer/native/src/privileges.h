/* Becoming the agent: uid/gid, no supplementary groups, no capabilities, no_new_privs. */
#ifndef AIRLOCK_LAUNCH_PRIVILEGES_H
#define AIRLOCK_LAUNCH_PRIVILEGES_H

#include <sys/types.h>

/* Fails with EXIT_PRIVILEGES unless every capability set ends up empty. */
void drop_privileges(uid_t uid, gid_t gid);

#endif
