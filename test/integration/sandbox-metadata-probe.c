/*
 * Metadata probe (test/integration/sandbox-metadata.test.ts): runs inside the
 * sandbox, makes each metadata call named on the command line and prints
 * "<op> ok" or "<op> <ERRNO>", one line each, in order. Arguments follow ':'
 * separated by ','. Each op makes the syscall it is named after (raw where
 * libc would make another). Compiled by the test with gcc.
 *   sandbox-metadata-probe chmod:/ws/f,600 fchmod-ro:/out/f,600 race:/ws/link,/ws/in,/ws/out,2000,touch
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#define NR_fchmodat2 452
#define NR_setxattrat 463
#define NR_removexattrat 466

struct xattr_args_v0 {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

static char *args[8];

static long num(int i, int base)
{
	return args[i] ? strtol(args[i], NULL, base) : 0;
}

/* Opens read-only, runs the call on the descriptor, keeps its errno across close(). */
#define ON_FD(call)                              \
	do {                                     \
		int fd = open(args[0], O_RDONLY); \
		if (fd < 0)                      \
			return -1;               \
		long r = (call);                 \
		int e = errno;                   \
		close(fd);                       \
		errno = e;                       \
		return r;                        \
	} while (0)

/* A symlink `link` to `target`, made aside and renamed over it (the swap is atomic). */
static int point(const char *link, const char *target)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.new", link);
	unlink(tmp);
	return symlink(target, tmp) || rename(tmp, link) ? -1 : 0;
}

struct flipper {
	const char *link, *a, *b;
	volatile int stop;
};

static void *flip(void *p)
{
	struct flipper *f = p;
	for (unsigned i = 0; !f->stop; i++)
		point(f->link, i & 1 ? f->b : f->a);
	return NULL;
}

/* `n` times `what` (chmod, touch, xattr) through `link` while a thread flips it between `in` and `out`. */
static long race(const char *link, const char *in, const char *out, long n, const char *what)
{
	struct flipper f = {link, in, out, 0};
	pthread_t t;
	if (point(link, in) || pthread_create(&t, NULL, flip, &f))
		return -1;
	long done = 0, refused = 0;
	for (long i = 0; i < n; i++) {
		long r = !strcmp(what, "chmod") ? chmod(link, 0600) : !strcmp(what, "touch") ? utimensat(AT_FDCWD, link, NULL, 0) : setxattr(link, "user.race", "x", 1, 0);
		if (r == 0)
			done++;
		else if (errno == EPERM || errno == EACCES)
			refused++;
	}
	f.stop = 1;
	pthread_join(t, NULL);
	printf("race %s done=%ld refused=%ld\n", what, done, refused);
	return 0;
}

static long run(const char *op)
{
	struct timespec two[2] = {{1000000000, 0}, {1000000000, 0}};
	struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
	struct xattr_args_v0 xa = {(uint64_t)(uintptr_t) "v", 1, 0};
	if (!strcmp(op, "chmod"))
		return syscall(SYS_chmod, args[0], (mode_t)num(1, 8));
	if (!strcmp(op, "fchmod-ro"))
		ON_FD(fchmod(fd, (mode_t)num(1, 8)));
	if (!strcmp(op, "fchmodat"))
		return syscall(SYS_fchmodat, AT_FDCWD, args[0], (mode_t)num(1, 8));
	if (!strcmp(op, "fchmodat-nofollow")) /* glibc 2.36: O_PATH, then chmod of /proc/self/fd/N */
		return fchmodat(AT_FDCWD, args[0], (mode_t)num(1, 8), AT_SYMLINK_NOFOLLOW);
	if (!strcmp(op, "fchmodat2"))
		return syscall(NR_fchmodat2, AT_FDCWD, args[0], (mode_t)num(1, 8), (int)num(2, 0));
	if (!strcmp(op, "chown"))
		return syscall(SYS_chown, args[0], getuid(), getgid());
	if (!strcmp(op, "lchown"))
		return syscall(SYS_lchown, args[0], getuid(), getgid());
	if (!strcmp(op, "fchown-ro"))
		ON_FD(fchown(fd, getuid(), getgid()));
	if (!strcmp(op, "fchownat-empty")) /* AT_EMPTY_PATH on a descriptor opened read-only */
		ON_FD(fchownat(fd, "", getuid(), getgid(), AT_EMPTY_PATH));
	if (!strcmp(op, "utime-now"))
		return syscall(SYS_utime, args[0], NULL);
	if (!strcmp(op, "utimes"))
		return syscall(SYS_utimes, args[0], tv);
	if (!strcmp(op, "futimesat-now"))
		return syscall(SYS_futimesat, AT_FDCWD, args[0], NULL);
	if (!strcmp(op, "touch"))
		return utimensat(AT_FDCWD, args[0], NULL, 0);
	if (!strcmp(op, "utimensat"))
		return utimensat(AT_FDCWD, args[0], two, 0);
	if (!strcmp(op, "utimensat-omit")) {
		struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
		return utimensat(AT_FDCWD, args[0], omit, 0);
	}
	if (!strcmp(op, "futimens-ro"))
		ON_FD(futimens(fd, NULL));
	if (!strcmp(op, "setxattr"))
		return setxattr(args[0], "user.probe", "v", 1, 0);
	if (!strcmp(op, "lsetxattr"))
		return lsetxattr(args[0], "user.probe", "v", 1, 0);
	if (!strcmp(op, "fsetxattr-ro"))
		ON_FD(fsetxattr(fd, "user.probe", "v", 1, 0));
	if (!strcmp(op, "setxattrat"))
		return syscall(NR_setxattrat, AT_FDCWD, args[0], 0, "user.probe", &xa, sizeof(xa));
	if (!strcmp(op, "removexattr"))
		return removexattr(args[0], "user.probe");
	if (!strcmp(op, "removexattrat"))
		return syscall(NR_removexattrat, AT_FDCWD, args[0], 0, "user.probe");
	if (!strcmp(op, "chattr-ro")) {
		ON_FD(({
			int flags = 0;
			ioctl(fd, FS_IOC_GETFLAGS, &flags) ? -1 : ioctl(fd, FS_IOC_SETFLAGS, &flags);
		}));
	}
	if (!strcmp(op, "point"))
		return point(args[0], args[1]);
	if (!strcmp(op, "race"))
		return race(args[0], args[1], args[2], num(3, 10), args[4]);
	fprintf(stderr, "sandbox-metadata-probe: unknown op %s\n", op);
	exit(2);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		char *op = argv[i], *colon = strchr(op, ':');
		memset(args, 0, sizeof(args));
		if (colon) {
			*colon = '\0';
			int n = 0;
			for (char *a = strtok(colon + 1, ","); a && n < 8; a = strtok(NULL, ","))
				args[n++] = a;
		}
		errno = 0;
		long r = run(op);
		printf("%s %s\n", op, r < 0 ? strerrorname_np(errno) : "ok");
	}
	return 0;
}
