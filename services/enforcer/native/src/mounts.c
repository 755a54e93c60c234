#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common.h"
#include "mounts.h"

#define die(stage, ...) fail(EXIT_NAMESPACE, stage, __VA_ARGS__)

int agent_mounts(const char *private_tmp, uid_t uid, gid_t gid)
{
	if (unshare(CLONE_NEWNS))
		die("mountns", "unshare: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL))
		die("mountns", "making mounts slaves: %s", strerror(errno));
	int host_proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (host_proc < 0)
		die("proc", "/proc: %s", strerror(errno));
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible,subset=pid"))
		die("proc", "mounting the agent's /proc: %s", strerror(errno));
	if (private_tmp) {
		char options[64];
		snprintf(options, sizeof(options), "mode=0700,uid=%u,gid=%u", (unsigned)uid, (unsigned)gid);
		if (mount("tmpfs", private_tmp, "tmpfs", MS_NOSUID | MS_NODEV, options))
			die("mountns", "tmpfs on %s: %s", private_tmp, strerror(errno));
	}
	return host_proc;
}

void mask_paths(char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (mount("tmpfs", paths[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555") &&
		    errno != ENOENT)
			die("mask", "tmpfs on %s: %s", paths[i], strerror(errno));
	}
}
