/*
 * setfsuid() and setfsgid() need CAP_SETUID and CAP_SETGID in effect: they
 * come first, then capset() empties the effective set (the permitted one
 * stays, so root can be taken back). Both calls report the previous value
 * and fail silently, so each change is read back (an invalid id, -1, only
 * reads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "common.h"
#include "creds.h"

#define die(...) fail(EXIT_NOTIFY, "notify", __VA_ARGS__)

static struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];

static void set_effective(int on)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memcpy(data, caps, sizeof(data));
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		data[i].effective = on ? caps[i].effective : 0;
	if (syscall(SYS_capset, &header, data))
		die("capset: %s", strerror(errno));
}

static void set_fs_ids(uid_t uid, gid_t gid)
{
	setfsgid(gid);
	setfsuid(uid);
	if ((uid_t)setfsuid((uid_t)-1) != uid || (gid_t)setfsgid((gid_t)-1) != gid)
		die("could not take fs ids %u:%u", (unsigned)uid, (unsigned)gid);
}

void creds_init(void)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	if (setgroups(0, NULL) || syscall(SYS_capget, &header, caps))
		die("init's credentials: %s", strerror(errno));
}

void creds_agent(uid_t uid, gid_t gid)
{
	set_fs_ids(uid, gid);
	set_effective(0);
}

void creds_root(void)
{
	set_effective(1);
	set_fs_ids(0, 0);
}
