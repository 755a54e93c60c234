#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "common.h"
#include "notify.h"
#include "seccomp.h"

void seccomp_install(const struct seccomp_prog *filters, size_t n, int handoff)
{
	for (size_t i = 0; i < n; i++) {
		struct sock_fprog prog = {.len = filters[i].len, .filter = filters[i].insns};
		long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, filters[i].flags, &prog);
		if (r >= 0 && (filters[i].flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)) {
			notify_hand_over(handoff, (int)r);
			continue;
		}
		if (r > 0)
			fail(EXIT_SECCOMP, "seccomp", "filter %zu: thread %ld could not be synchronised", i, r);
		if (r < 0)
			fail(EXIT_SECCOMP, "seccomp", "filter %zu: %s", i, strerror(errno));
	}
}

int seccomp_available(void)
{
	unsigned int actions[] = {SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_ALLOW};
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &actions[i]))
			return 0;
	}
	/* A NULL program with a known flag fails on the pointer (EFAULT), with an unknown flag on the flag (EINVAL). */
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_TSYNC, NULL);
	if (r >= 0 || errno != EFAULT)
		return 0;
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, NULL);
	return r < 0 && errno == EFAULT;
}
