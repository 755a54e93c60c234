/*
 * airlock-launch: applies the in-process layers, then becomes the agent in
 * its own PID namespace. Usage:
 *   airlock-launch --spec-fd N --ctl-fd M [--report-fd R]
 *                              read the spec from N (to EOF), run it; R gets
 *                              the metadata check's reports (notify.h)
 *   airlock-launch --probe     print the host's layers as JSON
 *
 * Order: spec → layer check → the agent's uid and its workspace (uid_pool.h)
 * → PID namespace (the launcher stays behind, supervise.h) → init, pid 1:
 * mount namespace with a fresh /proc and private tmp; it will answer the
 * metadata calls (notify.h) → agent, pid 2: cgroups, cgroup namespace → program and exec gate →
 * Landlock ruleset (as root, with protected-root checks) → masks → "ready
 * <host pid>" on the control fd, wait for "go" → drop uid/gid/capabilities,
 * no_new_privs → chdir workspace → Landlock restrict_self → close every
 * other fd → seccomp → execveat. Any failure exits with a code of common.h
 * and a line on stderr and the control fd: nothing runs unenforced.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "landlock.h"
#include "mounts.h"
#include "notify.h"
#include "privileges.h"
#include "process.h"
#include "seccomp.h"
#include "spec.h"
#include "supervise.h"
#include "uid_pool.h"

int launch_ctl_fd = -1;

static void write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		text += n;
		len -= (size_t)n;
	}
}

void fail(int code, const char *stage, const char *fmt, ...)
{
	char reason[1024], line[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	for (char *c = reason; *c; c++) {
		if (*c == '\n')
			*c = ' ';
	}
	int n = snprintf(line, sizeof(line), "airlock-launch: %s: %s\n", stage, reason);
	write_all(2, line, (size_t)n);
	if (launch_ctl_fd >= 0) {
		n = snprintf(line, sizeof(line), "error %d %s %s\n", code, stage, reason);
		write_all(launch_ctl_fd, line, (size_t)n);
	}
	_exit(code);
}

static int probe(void)
{
	printf("{\"landlock\":{\"abi\":%d},\"seccomp\":{\"available\":%s},\"mmapMinAddr\":%lu}\n", landlock_abi(),
	       seccomp_available() ? "true" : "false", mmap_min_addr());
	return 0;
}

static int fd_argument(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (!*text || *end || v < 3 || v > 1 << 20)
		fail(EXIT_USAGE, "usage", "\"%s\" is not a descriptor number above 2", text);
	if (fcntl((int)v, F_SETFD, FD_CLOEXEC))
		fail(EXIT_USAGE, "usage", "descriptor %ld: %s", v, strerror(errno));
	return (int)v;
}

/* Our pid as the host sees it: "self" in its procfs (pid namespaces nest; getpid() says 2). */
static int host_pid(int host_proc)
{
	char link[32];
	ssize_t n = readlinkat(host_proc, "self", link, sizeof(link) - 1);
	if (n <= 0)
		fail(EXIT_NAMESPACE, "pidns", "reading our host pid: %s", n < 0 ? strerror(errno) : "empty");
	link[n] = '\0';
	close(host_proc);
	return atoi(link);
}

/* Reports `pid` (the host's number for us) and our ids, then blocks until the enforcer writes "go"; anything else, or EOF, aborts. */
static void wait_for_go(int ctl, int pid, uid_t uid, gid_t gid)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "ready %d %u %u\n", pid, (unsigned)uid, (unsigned)gid);
	write_all(ctl, msg, (size_t)n);
	size_t len = 0;
	while (len < 3) {
		ssize_t r = read(ctl, msg + len, 3 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail(EXIT_ABORTED, "wait", "the enforcer closed the control channel before \"go\"");
		len += (size_t)r;
	}
	if (memcmp(msg, "go\n", 3))
		fail(EXIT_ABORTED, "wait", "unexpected message on the control channel");
}

int main(int argc, char **argv)
{
	int spec_fd = -1, report_fd = -1;
	/* A vanished enforcer must not kill us with SIGPIPE before we say why; reset before exec. */
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && !strcmp(argv[1], "--probe"))
		return probe();
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--spec-fd"))
			spec_fd = fd_argument(argv[i + 1]);
		else if (!strcmp(argv[i], "--ctl-fd"))
			launch_ctl_fd = fd_argument(argv[i + 1]);
		else if (!strcmp(argv[i], "--report-fd"))
			report_fd = fd_argument(argv[i + 1]);
		else
			fail(EXIT_USAGE, "usage", "unknown option %s", argv[i]);
	}
	if ((argc != 5 && argc != 7) || spec_fd < 0 || launch_ctl_fd < 0)
		fail(EXIT_USAGE, "usage", "airlock-launch --spec-fd N --ctl-fd M [--report-fd R] | --probe");

	struct launch_spec spec;
	spec_read(spec_fd, &spec);
	close(spec_fd);

	int abi = landlock_abi();
	if (abi < spec.landlock_abi)
		fail(EXIT_UNAVAILABLE, "landlock", "the host's Landlock ABI is %d, the policy needs %d", abi,
		     spec.landlock_abi);
	if (!seccomp_available())
		fail(EXIT_UNAVAILABLE, "seccomp", "seccomp filters with logging are not available");
	if (spec.exec_gate)
		check_exec_gate(spec.exec_gate);
	if (spec.notify && report_fd < 0)
		fail(EXIT_USAGE, "usage", "a spec with a metadata check needs --report-fd");

	struct uid_lease lease;
	uid_claim(&spec, &lease);
	block_signals();
	int status_pipe = fork_init(&spec, &lease);
	int host_proc = agent_mounts(spec.private_tmp, spec.uid, spec.gid);
	struct notify_server *server = notify_prepare(&spec, report_fd, host_proc);
	fork_agent(status_pipe, server);
	int handoff = notify_agent_end(server);
	int pid = host_pid(host_proc);

	join_cgroups(spec.cgroups, spec.n_cgroups);
	/* Its cgroups are its root: /proc/self/cgroup says "/", v2 moves stop there. */
	if (unshare(CLONE_NEWCGROUP))
		fail(EXIT_NAMESPACE, "cgroupns", "unshare: %s", strerror(errno));

	int program = open(spec.program, O_PATH | O_CLOEXEC);
	if (program < 0)
		fail(EXIT_PROGRAM, "program", "%s: %s", spec.program, strerror(errno));
	if (spec.exec_gate)
		map_exec_gate(spec.exec_gate);

	/* Before the masks: rules and protected roots are the real inodes, and no rule can name a mask. */
	int ruleset = landlock_build(&spec);
	mask_paths(spec.masks, spec.n_masks);

	wait_for_go(launch_ctl_fd, pid, spec.uid, spec.gid);

	drop_privileges(spec.uid, spec.gid);
	if (chdir(spec.workspace))
		fail(EXIT_WORKSPACE, "workspace", "%s: %s", spec.workspace, strerror(errno));
	landlock_enforce(ruleset, spec.landlock_flags);
	int keep[] = {program, launch_ctl_fd, handoff};
	close_other_fds(keep, handoff < 0 ? 2 : 3);
	reset_signals();
	seccomp_install(spec.filters, spec.n_filters, handoff);

	const char *path = spec.exec_gate ? (const char *)spec.exec_gate : "";
	syscall(SYS_execveat, program, path, spec.argv, spec.envp, AT_EMPTY_PATH);
	fail(EXIT_EXEC, "exec", "%s: %s", spec.program, strerror(errno));
}
