/*
 * Escape probe: runs inside the sandbox, tries each operation named on the
 * command line and prints "<op> ok" or "<op> errno=<n>", one line each, in
 * order, then exits 0. Compiled by the sandbox tests with gcc.
 *   sandbox-probe read:/etc/hostname bpf fork ...
 * Arguments after ':' are separated by ','.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

static char *args[8];

static void report(const char *op, long r)
{
	if (r < 0)
		printf("%s errno=%d\n", op, errno);
	else
		printf("%s ok\n", op);
	fflush(stdout);
}

static long arg_num(int i)
{
	return args[i] ? strtol(args[i], NULL, 0) : 0;
}

static void *thread_main(void *p)
{
	return p;
}

static long do_read(const char *path)
{
	char c;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	long r = read(fd, &c, 1);
	close(fd);
	return r;
}

static long do_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	long r = write(fd, "x", 1);
	close(fd);
	return r;
}

static long do_fork(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return -1;
	int status;
	waitpid(pid, &status, 0);
	return 0;
}

static long do_thread(void)
{
	pthread_t t;
	int e = pthread_create(&t, NULL, thread_main, NULL);
	if (e) {
		errno = e;
		return -1;
	}
	return pthread_join(t, NULL);
}

static long do_exec(const char *path)
{
	char *argv[] = {(char *)path, NULL}, *envp[] = {NULL};
	fflush(stdout);
	return execve(path, argv, envp); /* returns only on failure */
}

static long do_open_by_handle(const char *path)
{
	struct {
		struct file_handle h;
		unsigned char bytes[MAX_HANDLE_SZ];
	} fh;
	int mount_id;
	fh.h.handle_bytes = MAX_HANDLE_SZ;
	if (syscall(SYS_name_to_handle_at, AT_FDCWD, path, &fh.h, &mount_id, 0) < 0)
		return -1;
	return syscall(SYS_open_by_handle_at, AT_FDCWD, &fh.h, O_RDONLY);
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
	return syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
}

static long do_perf(void)
{
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

static long do_io_uring(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	return syscall(SYS_io_uring_setup, 4, &p);
}

static long do_setns(void)
{
	int fd = open("/proc/self/ns/uts", O_RDONLY);
	if (fd < 0)
		return -1;
	return setns(fd, 0);
}

/* Copies an executable into a memfd and executes it from there. */
static long do_memfd_exec(unsigned int flags, const char *exe)
{
	int mfd = (int)syscall(SYS_memfd_create, "probe", flags);
	if (mfd < 0)
		return -1;
	int src = open(exe, O_RDONLY);
	char buf[65536];
	ssize_t n;
	while (src >= 0 && (n = read(src, buf, sizeof(buf))) > 0) {
		if (write(mfd, buf, (size_t)n) != n)
			return -1;
	}
	if (src < 0)
		return -1;
	char *argv[] = {"memfd", NULL}, *envp[] = {NULL};
	fflush(stdout);
	return syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
}

static long do_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	long r = connect(s, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	close(s);
	errno = e;
	return r;
}

static long do_bind(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	long r = bind(s, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	close(s);
	errno = e;
	return r;
}

static long do_cgroup_procs(const char *dir)
{
	char path[4096], pid[32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	int n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	long r = write(fd, pid, (size_t)n);
	close(fd);
	return r;
}

/* Same file opened 'count' times; prints ns per open+close. */
static long do_openloop(const char *path, long count)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < count; i++) {
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			return -1;
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("openloop-ns %.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)count);
	return 0;
}

static long do_i386_getpid(void)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	return r < 0 ? (errno = (int)-r, -1) : r;
}

static long run(const char *op)
{
	if (!strcmp(op, "read"))
		return do_read(args[0]);
	if (!strcmp(op, "write"))
		return do_write(args[0]);
	if (!strcmp(op, "rename"))
		return rename(args[0], args[1]);
	if (!strcmp(op, "unlink"))
		return unlink(args[0]);
	if (!strcmp(op, "chmod"))
		return chmod(args[0], 0600);
	if (!strcmp(op, "truncate"))
		return truncate(args[0], 0);
	if (!strcmp(op, "mkdir"))
		return mkdir(args[0], 0755);
	if (!strcmp(op, "mkfifo"))
		return mknod(args[0], S_IFIFO | 0644, 0);
	if (!strcmp(op, "mknod-char"))
		return mknod(args[0], S_IFCHR | 0644, makedev(1, 3));
	if (!strcmp(op, "symlink"))
		return symlink(args[0], args[1]);
	if (!strcmp(op, "link"))
		return link(args[0], args[1]);
	if (!strcmp(op, "open-by-handle"))
		return do_open_by_handle(args[0]);
	if (!strcmp(op, "fork"))
		return do_fork();
	if (!strcmp(op, "sys-fork")) {
		long pid = syscall(SYS_fork);
		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid((pid_t)pid, NULL, 0);
		return pid;
	}
	if (!strcmp(op, "thread"))
		return do_thread();
	if (!strcmp(op, "clone3"))
		return syscall(SYS_clone3, NULL, 0);
	if (!strcmp(op, "exec"))
		return do_exec(args[0]);
	if (!strcmp(op, "execveat-gate")) {
		char *argv[] = {"x", NULL}, *envp[] = {NULL};
		return syscall(SYS_execveat, AT_FDCWD, (char *)arg_num(0), argv, envp, AT_EMPTY_PATH);
	}
	if (!strcmp(op, "map-page-zero"))
		return mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ? -1 : 0;
	if (!strcmp(op, "ptrace"))
		return ptrace(PTRACE_ATTACH, (pid_t)arg_num(0), 0, 0);
	if (!strcmp(op, "kill"))
		return kill((pid_t)arg_num(0), SIGTERM);
	if (!strcmp(op, "vm-readv"))
		return do_vm_readv((pid_t)arg_num(0));
	if (!strcmp(op, "bpf"))
		return do_bpf();
	if (!strcmp(op, "perf"))
		return do_perf();
	if (!strcmp(op, "mount"))
		return mount("none", args[0], "tmpfs", 0, NULL);
	if (!strcmp(op, "unshare-user"))
		return unshare(CLONE_NEWUSER);
	if (!strcmp(op, "unshare-mnt"))
		return unshare(CLONE_NEWNS);
	if (!strcmp(op, "unshare-files"))
		return unshare(CLONE_FILES);
	if (!strcmp(op, "clone-newuser"))
		return syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0) == 0 ? (_exit(0), 0) : -1;
	if (!strcmp(op, "setns"))
		return do_setns();
	if (!strcmp(op, "chroot"))
		return chroot(args[0]);
	if (!strcmp(op, "io-uring"))
		return do_io_uring();
	if (!strcmp(op, "memfd-exec"))
		return do_memfd_exec(MFD_CLOEXEC, args[0]);
	if (!strcmp(op, "memfd-sealed-exec"))
		return do_memfd_exec(MFD_CLOEXEC | MFD_NOEXEC_SEAL, args[0]);
	if (!strcmp(op, "socket"))
		return socket((int)arg_num(0), (int)arg_num(1), (int)arg_num(2));
	if (!strcmp(op, "socketpair")) {
		int sv[2];
		return socketpair((int)arg_num(0), SOCK_STREAM, 0, sv);
	}
	if (!strcmp(op, "connect"))
		return do_connect((int)arg_num(0));
	if (!strcmp(op, "bind"))
		return do_bind((int)arg_num(0));
	if (!strcmp(op, "cgroup-procs"))
		return do_cgroup_procs(args[0]);
	if (!strcmp(op, "personality"))
		return personality((unsigned long)arg_num(0));
	if (!strcmp(op, "tiocsti")) {
		char c = 'x';
		return ioctl(0, TIOCSTI, &c);
	}
	if (!strcmp(op, "keyctl"))
		return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
	if (!strcmp(op, "x32-getpid"))
		return syscall(39 | 0x40000000);
	if (!strcmp(op, "i386-getpid"))
		return do_i386_getpid();
	if (!strcmp(op, "fds")) {
		/* Prints the descriptors above 2 that were open when it started (not its own dir fd). */
		int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
		char list[256] = "";
		for (int fd = 3; fd < 1024; fd++) {
			if (fd != dir && fcntl(fd, F_GETFD) >= 0)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%d,", fd);
		}
		printf("open-fds [%s]\n", list);
		return dir < 0 ? -1 : close(dir);
	}
	if (!strcmp(op, "getpid"))
		return syscall(SYS_getpid); /* glibc's getpid() would not set errno */
	if (!strcmp(op, "openloop"))
		return do_openloop(args[0], arg_num(1));
	errno = EINVAL;
	fprintf(stderr, "unknown op %s\n", op);
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *op = argv[i], *colon = strchr(op, ':');
		memset(args, 0, sizeof(args));
		if (colon) {
			*colon = '\0';
			int n = 0;
			for (char *a = strtok(colon + 1, ","); a && n < 8; a = strtok(NULL, ","))
				args[n++] = a;
		}
		report(op, run(op));
	}
	return 0;
}
