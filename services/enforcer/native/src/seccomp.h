/* Installing the filters TypeScript generated, and probing what the kernel offers. */
#ifndef AIRLOCK_LAUNCH_SECCOMP_H
#define AIRLOCK_LAUNCH_SECCOMP_H

#include "spec.h"

/* Installs each filter in order (needs no_new_privs); fails with EXIT_SECCOMP. */
void seccomp_install(const struct seccomp_prog *filters, size_t n);

/* Is seccomp filtering with SECCOMP_FILTER_FLAG_LOG and the kill/errno actions available? */
int seccomp_available(void);

#endif
