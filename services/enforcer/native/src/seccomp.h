/* Installing the filters TypeScript generated, and probing what the kernel offers. */
#ifndef AIRLOCK_LAUNCH_SECCOMP_H
#define AIRLOCK_LAUNCH_SECCOMP_H

#include "spec.h"

/*
 * Installs each filter in order (needs no_new_privs); fails with EXIT_SECCOMP.
 * The listener of a filter with SECCOMP_FILTER_FLAG_NEW_LISTENER goes to init
 * over `handoff` (notify.h).
 */
void seccomp_install(const struct seccomp_prog *filters, size_t n, int handoff);

/* Is seccomp filtering with SECCOMP_FILTER_FLAG_LOG, user notification and the kill/errno actions available? */
int seccomp_available(void);

#endif
