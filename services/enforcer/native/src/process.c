#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "process.h"

void join_cgroups(char *const *dirs, size_t n)
{
	char path[4096];
	for (size_t i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dirs[i]) >= sizeof(path))
			fail(EXIT_CGROUP, "cgroup", "path too long: %s", dirs[i]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			fail(EXIT_CGROUP, "cgroup", "%s: %s", path, strerror(errno));
		/* "0": the writer itself (our pid here is our PID namespace's, not the host's). */
		if (write(fd, "0\n", 2) != 2)
			fail(EXIT_CGROUP, "cgroup", "joining %s: %s", dirs[i], strerror(errno));
		close(fd);
	}
}

unsigned long mmap_min_addr(void)
{
	unsigned long min_addr = 0;
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "re");
	if (f) {
		if (fscanf(f, "%lu", &min_addr) != 1)
			min_addr = 0;
		fclose(f);
	}
	return min_addr;
}

void check_exec_gate(uintptr_t gate)
{
	unsigned long min_addr = mmap_min_addr();
	/* Were the gate's page mappable by anyone, an agent could map it and exec again. */
	if (min_addr <= gate)
		fail(EXIT_UNAVAILABLE, "exec-gate", "vm.mmap_min_addr is %lu: it must be above %#lx for a no-exec policy",
		     min_addr, (unsigned long)gate);
}

void map_exec_gate(uintptr_t gate)
{
	long page = sysconf(_SC_PAGESIZE);
	void *base = (void *)(gate & ~(uintptr_t)(page - 1));
	void *p = mmap(base, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != base)
		fail(EXIT_PROGRAM, "exec-gate", "mapping page %p: %s", base, p == MAP_FAILED ? strerror(errno) : "wrong address");
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

void close_other_fds(const int *keep, size_t n)
{
	int sorted[8];
	if (n > 8)
		fail(EXIT_FDS, "fds", "too many descriptors to keep");
	memcpy(sorted, keep, n * sizeof(int));
	qsort(sorted, n, sizeof(int), cmp_int);
	unsigned int from = 3;
	for (size_t i = 0; i < n; i++) {
		unsigned int k = (unsigned int)sorted[i];
		if (k < from)
			continue;
		if (k > from && close_range(from, k - 1, 0))
			fail(EXIT_FDS, "fds", "close_range: %s", strerror(errno));
		from = k + 1;
	}
	if (close_range(from, ~0U, 0))
		fail(EXIT_FDS, "fds", "close_range: %s", strerror(errno));
}

void reset_signals(void)
{
	sigset_t none;
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP, unused numbers */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
