/*
 * The escape suite's agent (test/e2e/42_escape.test.ts): tries each step
 * named on its command line, in order, and prints one line per step as soon
 * as it is known, flushed:
 *
 *   step <n> <op> ok            the call succeeded
 *   step <n> <op> <ERRNO>       it failed with that errno (EACCES, EPERM ...)
 *   mark <text>                 a "mark:<text>" step: it ran this far
 *   done                        after the last step
 *
 * preceded by "probe pid <getpid()>" (the suite compares it with the pid
 * airlock reports to tell whether the agent has its own PID namespace).
 *
 * So a run killed at a step shows exactly what ran before it. Arguments
 * follow ':' separated by ','. Compiled by the suite with gcc; no libraries.
 *
 *   escape-probe read:/etc/hostname mark:after bpf
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 8
static char *args[MAX_ARGS];

static long num(int i)
{
	return args[i] ? strtol(args[i], NULL, 0) : 0;
}

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* Keeps errno of the failing call across close(). */
static long fail_close(int fd)
{
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static void *thread_main(void *p)
{
	return p;
}

static long do_read(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	long r = read(fd, buf, sizeof(buf));
	if (r < 0)
		return fail_close(fd);
	close(fd);
	return 0;
}

static long do_write(const char *path, int flags)
{
	int fd = open(path, O_WRONLY | flags, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, "escaped\n", 8) < 0)
		return fail_close(fd);
	close(fd);
	return 0;
}

static long do_list(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	char buf[4096];
	long r = syscall(SYS_getdents64, fd, buf, sizeof(buf));
	if (r < 0)
		return fail_close(fd);
	close(fd);
	return 0;
}

static long do_fork(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return 0;
}

static long do_exec(const char *path)
{
	char *argv[] = {(char *)path, NULL}, *envp[] = {NULL};
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execve(path, argv, envp);
		_exit(100 + errno); /* the errno reaches the parent through the status */
	}
	int status;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 100) {
		errno = WEXITSTATUS(status) - 100;
		return -1;
	}
	if (WIFSIGNALED(status)) { /* a kill in the kernel: the agent goes down with it */
		errno = EINTR;
		return -1;
	}
	return 0;
}

/* execve in this very process: under a no-spawn policy the probe cannot fork first. */
static long do_exec_self(const char *path)
{
	char *argv[] = {(char *)path, NULL}, *envp[] = {NULL};
	fflush(stdout);
	return execve(path, argv, envp);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* open_by_handle_at with a handle the test made outside: args type,hex-bytes,mount-dir. */
static long do_open_by_handle(void)
{
	struct {
		struct file_handle h;
		unsigned char bytes[MAX_HANDLE_SZ];
	} fh;
	const char *hex = args[1] ? args[1] : "";
	size_t n = strlen(hex) / 2;
	if (n > MAX_HANDLE_SZ) {
		errno = EINVAL;
		return -1;
	}
	fh.h.handle_type = (int)num(0);
	fh.h.handle_bytes = (unsigned int)n;
	for (size_t i = 0; i < n; i++)
		fh.bytes[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	int mfd = open(args[2] ? args[2] : ".", O_RDONLY | O_DIRECTORY);
	if (mfd < 0)
		return -1;
	long r = syscall(SYS_open_by_handle_at, mfd, &fh.h, O_RDONLY);
	if (r < 0)
		return fail_close(mfd);
	close((int)r);
	close(mfd);
	return 0;
}

/* name_to_handle_at; with PRINT, prints "handle <type> <hex>" (the suite makes handles this way on the host). */
static long do_name_to_handle(const char *path, int print)
{
	struct {
		struct file_handle h;
		unsigned char bytes[MAX_HANDLE_SZ];
	} fh;
	int mount_id;
	fh.h.handle_bytes = MAX_HANDLE_SZ;
	long r = syscall(SYS_name_to_handle_at, AT_FDCWD, path, &fh.h, &mount_id, 0);
	if (r == 0 && print) {
		printf("handle %d ", fh.h.handle_type);
		for (unsigned int i = 0; i < fh.h.handle_bytes; i++)
			printf("%02x", fh.bytes[i]);
		printf("\n");
	}
	return r;
}

/* An attempt that opens something: what it returned, the descriptor closed again. */
static long opened_and_closed(long fd)
{
	if (fd >= 0)
		close((int)fd);
	return fd;
}

static long do_vm_readv(pid_t pid)
{
	char buf[8];
	struct iovec local = {buf, sizeof(buf)}, remote = {(void *)0x400000, sizeof(buf)};
	return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

static long do_bpf(void)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	return opened_and_closed(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)));
}

static long do_perf(void)
{
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	return opened_and_closed(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

static long do_io_uring(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	return opened_and_closed(syscall(SYS_io_uring_setup, 4, &p));
}

static long do_setns(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (setns(fd, 0) < 0)
		return fail_close(fd);
	close(fd);
	return 0;
}

/* A copy of an executable in an executable memfd, run from there. */
static long do_memfd_exec(const char *exe)
{
	int mfd = (int)syscall(SYS_memfd_create, "escape", MFD_CLOEXEC);
	if (mfd < 0)
		return -1;
	int src = open(exe, O_RDONLY);
	if (src < 0)
		return fail_close(mfd);
	char buf[65536];
	ssize_t n;
	while ((n = read(src, buf, sizeof(buf))) > 0)
		if (write(mfd, buf, (size_t)n) != n)
			return fail_close(mfd);
	close(src);
	char *argv[] = {"memfd", NULL}, *envp[] = {NULL};
	fflush(stdout);
	return syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
}

static long do_fsopen(void)
{
	return opened_and_closed(syscall(430 /* fsopen */, "tmpfs", 0));
}

/* connect (TCP) or one datagram (UDP) to ADDR,PORT; AF_INET6 when ADDR has a ':'. */
/* connect() to a pathname UNIX socket */
static long do_unix_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(a.sun_path))
		return errno = ENAMETOOLONG, -1;
	strcpy(a.sun_path, path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		return fail_close(s);
	close(s);
	return 0;
}

static long do_net(int type, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &a->sin_addr) != 1)
			return errno = EINVAL, -1;
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1)
			return errno = EINVAL, -1;
		len = sizeof(*a);
	}
	int s = socket(family, type | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct timeval tv = {3, 0};
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	long r = type == SOCK_STREAM ? connect(s, (struct sockaddr *)&ss, len) : sendto(s, "airlock", 7, 0, (struct sockaddr *)&ss, len);
	if (r < 0)
		return fail_close(s);
	close(s);
	return 0;
}

static long do_socket(int family, int type, int protocol)
{
	int s = socket(family, type, protocol);
	if (s < 0)
		return -1;
	close(s);
	return 0;
}

static long do_cgroup_procs(const char *dir)
{
	char path[4096], pid[32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	int n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (write(fd, pid, (size_t)n) < 0)
		return fail_close(fd);
	close(fd);
	return 0;
}

/*
 * A fork bomb for MS milliseconds: every process forks as fast as it can and
 * every child does the same. The first process reports how many of its own
 * forks failed and with which errno, then kills the bomb (its process group).
 */
static long do_forkbomb(long ms)
{
	setpgid(0, 0); /* fails harmlessly if it leads a session: kill(0) below then reaches the same tree */
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	long forked = 0, failed = 0;
	int err = 0;
	pid_t top = getpid();
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 > ms)
			break;
		pid_t pid = fork();
		if (pid == 0)
			continue; /* the child bombs on */
		if (pid > 0)
			forked++;
		else {
			failed++;
			err = errno;
			sleep_ms(1);
		}
	}
	if (getpid() != top) {
		pause(); /* the first process ends us all */
		_exit(0);
	}
	printf("forkbomb forked=%ld failed=%ld\n", forked, failed);
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGTERM);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	if (failed == 0)
		return 0;
	errno = err;
	return -1;
}

static long do_alloc(long mib)
{
	for (long i = 0; i < mib; i++) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -1;
		memset(p, 0xa5, 1 << 20);
	}
	return 0;
}

/* N processes that leave the tree (double fork, new session) and sleep; this one sleeps too. */
static long do_daemons(long n, long seconds)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			setsid();
			if (fork() == 0) {
				sleep_ms(seconds * 1000);
				_exit(0);
			}
			_exit(0);
		}
		waitpid(pid, NULL, 0);
	}
	return 0;
}

static long do_child_signal(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		pause();
		_exit(0);
	}
	long r = kill(pid, SIGKILL);
	int e = errno;
	waitpid(pid, NULL, 0);
	errno = e;
	return r;
}

static long run(const char *op)
{
	if (!strcmp(op, "read"))
		return do_read(args[0]);
	if (!strcmp(op, "write"))
		return do_write(args[0], O_TRUNC);
	if (!strcmp(op, "append"))
		return do_write(args[0], O_APPEND);
	if (!strcmp(op, "create"))
		return do_write(args[0], O_CREAT | O_EXCL);
	if (!strcmp(op, "list"))
		return do_list(args[0]);
	if (!strcmp(op, "rename"))
		return rename(args[0], args[1]);
	if (!strcmp(op, "unlink"))
		return unlink(args[0]);
	if (!strcmp(op, "rmdir"))
		return rmdir(args[0]);
	if (!strcmp(op, "mkdir"))
		return mkdir(args[0], 0755);
	if (!strcmp(op, "chmod"))
		return chmod(args[0], (mode_t)(args[1] ? strtol(args[1], NULL, 8) : 0777));
	if (!strcmp(op, "fchmodat"))
		return syscall(SYS_fchmodat, AT_FDCWD, args[0], (mode_t)strtol(args[1], NULL, 8));
	if (!strcmp(op, "fchmod-ro")) { /* through a descriptor opened read-only */
		int fd = open(args[0], O_RDONLY);
		if (fd < 0)
			return -1;
		if (fchmod(fd, (mode_t)strtol(args[1], NULL, 8)))
			return fail_close(fd);
		close(fd);
		return 0;
	}
	if (!strcmp(op, "chown"))
		return chown(args[0], (uid_t)num(1), (gid_t)num(1));
	if (!strcmp(op, "utimes"))
		return utimensat(AT_FDCWD, args[0], NULL, 0);
	if (!strcmp(op, "setxattr"))
		return syscall(SYS_setxattr, args[0], "user.airlock", "x", 1, 0);
	if (!strcmp(op, "truncate"))
		return truncate(args[0], 0);
	if (!strcmp(op, "mknod-char"))
		return mknod(args[0], S_IFCHR | 0666, makedev(1, 3));
	if (!strcmp(op, "mkfifo"))
		return mknod(args[0], S_IFIFO | 0644, 0);
	if (!strcmp(op, "symlink"))
		return symlink(args[0], args[1]);
	if (!strcmp(op, "link"))
		return link(args[0], args[1]);
	if (!strcmp(op, "open-by-handle"))
		return do_open_by_handle();
	if (!strcmp(op, "name-to-handle"))
		return do_name_to_handle(args[0], 0);
	if (!strcmp(op, "print-handle"))
		return do_name_to_handle(args[0], 1);
	if (!strcmp(op, "fork"))
		return do_fork();
	if (!strcmp(op, "exec"))
		return do_exec(args[0]);
	if (!strcmp(op, "exec-self"))
		return do_exec_self(args[0]);
	if (!strcmp(op, "thread")) {
		pthread_t t;
		int e = pthread_create(&t, NULL, thread_main, NULL);
		if (e)
			return errno = e, -1;
		return pthread_join(t, NULL);
	}
	if (!strcmp(op, "ptrace"))
		return ptrace(PTRACE_ATTACH, (pid_t)num(0), 0, 0);
	if (!strcmp(op, "kill"))
		return kill((pid_t)num(0), SIGKILL);
	if (!strcmp(op, "kill-child"))
		return do_child_signal();
	if (!strcmp(op, "vm-readv"))
		return do_vm_readv((pid_t)num(0));
	if (!strcmp(op, "bpf"))
		return do_bpf();
	if (!strcmp(op, "perf"))
		return do_perf();
	if (!strcmp(op, "mount"))
		return mount("none", args[0], "tmpfs", 0, NULL);
	if (!strcmp(op, "fsopen"))
		return do_fsopen();
	if (!strcmp(op, "unshare-user"))
		return unshare(CLONE_NEWUSER);
	if (!strcmp(op, "clone-newuser")) {
		long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid((pid_t)pid, NULL, 0);
		return pid;
	}
	if (!strcmp(op, "unshare-mnt"))
		return unshare(CLONE_NEWNS);
	if (!strcmp(op, "setns"))
		return do_setns(args[0]);
	if (!strcmp(op, "chroot"))
		return chroot(args[0]);
	if (!strcmp(op, "io-uring"))
		return do_io_uring();
	if (!strcmp(op, "memfd-exec"))
		return do_memfd_exec(args[0]);
	if (!strcmp(op, "keyctl"))
		return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
	if (!strcmp(op, "pidfd-getfd")) {
		long pfd = syscall(SYS_pidfd_open, args[0] ? (pid_t)num(0) : getpid(), 0);
		if (pfd < 0)
			return -1;
		long r = syscall(438 /* pidfd_getfd */, (int)pfd, 0, 0);
		if (r < 0)
			return fail_close((int)pfd);
		close((int)r);
		close((int)pfd);
		return 0;
	}
	if (!strcmp(op, "tcp"))
		return do_net(SOCK_STREAM, args[0], (int)num(1));
	if (!strcmp(op, "udp"))
		return do_net(SOCK_DGRAM, args[0], (int)num(1));
	if (!strcmp(op, "socket"))
		return do_socket((int)num(0), (int)num(1), (int)num(2));
	if (!strcmp(op, "unix-connect"))
		return do_unix_connect(args[0]);
	if (!strcmp(op, "packet-socket"))
		return do_socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (!strcmp(op, "cgroup-procs"))
		return do_cgroup_procs(args[0]);
	if (!strcmp(op, "forkbomb"))
		return do_forkbomb(num(0));
	if (!strcmp(op, "alloc"))
		return do_alloc(num(0));
	if (!strcmp(op, "daemons"))
		return do_daemons(num(0), num(1));
	if (!strcmp(op, "wait")) { /* until the file exists (the suite's go-ahead), at most 20 s */
		struct stat st;
		for (int n = 0; n < 2000; n++) {
			if (stat(args[0], &st) == 0)
				return 0;
			sleep_ms(10);
		}
		return errno = ETIMEDOUT, -1;
	}
	if (!strcmp(op, "sleep")) {
		sleep_ms(num(0));
		return 0;
	}
	errno = EINVAL;
	fprintf(stderr, "escape-probe: unknown step %s\n", op);
	exit(2);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("probe pid %d\n", getpid());
	fflush(stdout);
	for (int i = 1; i < argc; i++) {
		char *op = argv[i], *colon = strchr(op, ':');
		memset(args, 0, sizeof(args));
		if (!strncmp(op, "mark:", 5)) {
			printf("mark %s\n", op + 5);
			fflush(stdout);
			continue;
		}
		if (colon) {
			*colon = '\0';
			int n = 0;
			char *save;
			for (char *a = strtok_r(colon + 1, ",", &save); a && n < MAX_ARGS; a = strtok_r(NULL, ",", &save))
				args[n++] = a;
		}
		errno = 0;
		long r = run(op);
		if (r < 0)
			printf("step %d %s %s\n", i, op, strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
		else
			printf("step %d %s ok\n", i, op);
		fflush(stdout);
	}
	printf("done\n");
	fflush(stdout);
	return 0;
}
