/*
 * Test helper: installs a seccomp filter that answers getppid() with
 * argv[1] = "kill" (SECCOMP_RET_KILL_PROCESS) or "errno" (EPERM, logged),
 * calls getppid(), prints the result, then sleeps argv[2] seconds.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned action;
	long r;

	if (argc != 3)
		return 2;
	action = strcmp(argv[1], "kill") == 0 ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ERRNO | EPERM;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, &prog)) {
		perror("seccomp");
		return 3;
	}
	r = syscall(__NR_getppid);
	printf("getppid %ld errno %d\n", r, r < 0 ? errno : 0);
	fflush(stdout);
	sleep(atoi(argv[2]));
	printf("survived\n");
	return 0;
}
