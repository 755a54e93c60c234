/*
 * Order matters: the bounding set can only be dropped while CAP_SETPCAP is
 * held (before setuid); setresuid from root to another uid clears the
 * permitted and effective sets; capset() then clears the inheritable set
 * (and everything, when the agent's uid is 0). The result is verified.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "common.h"
#include "privileges.h"

#define die(...) fail(EXIT_PRIVILEGES, "privileges", __VA_ARGS__)

void drop_privileges(uid_t uid, gid_t gid)
{
	/* Until the kernel says there is no such capability. */
	int cap;
	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			die("dropping capability %d from the bounding set: %s", cap, strerror(errno));
	}
	if (cap == 0)
		die("cannot read the capability bounding set: %s", strerror(errno));
	if (setgroups(0, NULL))
		die("setgroups: %s", strerror(errno));
	if (setresgid(gid, gid, gid))
		die("setresgid(%u): %s", (unsigned)gid, strerror(errno));
	if (setresuid(uid, uid, uid))
		die("setresuid(%u): %s", (unsigned)uid, strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		die("clearing ambient capabilities: %s", strerror(errno));

	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &header, data))
		die("capset: %s", strerror(errno));
	if (syscall(SYS_capget, &header, data))
		die("capget: %s", strerror(errno));
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			die("capabilities remain after dropping them");
	}
	for (int c = 0; c < cap; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 0)
			die("capability %d remains in the bounding set", c);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("no_new_privs: %s", strerror(errno));
}
