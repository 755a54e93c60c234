/*
 * Test helper: restricts itself with a Landlock ruleset that handles file
 * reads and allows none, then tries to read argv[1]. Prints "denied <errno>"
 * or "read", then sleeps argv[2] seconds (so a kill can be observed).
 * Landlock ABI 7 logs the denial to the kernel audit subsystem.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ruleset_attr {
	unsigned long long handled_access_fs, handled_access_net, scoped;
};

int main(int argc, char **argv)
{
	struct ruleset_attr attr = { .handled_access_fs = 1ULL << 2 /* READ_FILE */ };
	int rs, fd;

	if (argc != 3)
		return 2;
	rs = syscall(444 /* landlock_create_ruleset */, &attr, sizeof(attr), 0);
	if (rs < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(446 /* landlock_restrict_self */, rs, 0)) {
		perror("landlock");
		return 3;
	}
	fd = open(argv[1], O_RDONLY);
	printf(fd < 0 ? "denied %d\n" : "read\n", errno);
	fflush(stdout);
	sleep(atoi(argv[2]));
	printf("survived\n");
	return 0;
}
