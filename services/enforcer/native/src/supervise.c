#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "process.h"
#include "supervise.h"

void block_signals(void)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
}

/*
 * Forwards signals to `child`, reaps every child of ours until `child` ends,
 * and serves `server` meanwhile; returns the child's wait status.
 */
static int supervise(pid_t child, struct notify_server *server)
{
	sigset_t all;
	sigfillset(&all);
	int signals = signalfd(-1, &all, SFD_CLOEXEC);
	if (signals < 0)
		fail(EXIT_NAMESPACE, "pidns", "signalfd: %s", strerror(errno));
	for (;;) {
		struct pollfd p[2] = {{.fd = signals, .events = POLLIN}, {.fd = server ? notify_fd(server) : -1, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail(EXIT_NAMESPACE, "pidns", "poll: %s", strerror(errno));
		}
		if (p[1].revents)
			notify_serve(server, p[1].revents);
		struct signalfd_siginfo info;
		if (!(p[0].revents & POLLIN) || read(signals, &info, sizeof(info)) != sizeof(info))
			continue;
		if (info.ssi_signo == SIGCHLD) {
			int status;
			pid_t pid;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				if (pid == child) {
					close(signals);
					return status;
				}
			}
		} else if (info.ssi_signo != SIGPIPE && info.ssi_code != SI_KERNEL) {
			kill(child, (int)info.ssi_signo);
		}
	}
}

/* Exits with the status's code, or dies of its signal (without a core dump: the agent dumped its own). */
static _Noreturn void end_as(int status)
{
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	int sig = WTERMSIG(status);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(sig, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	_exit(128 + sig); /* pid 1: the report tells the launcher which signal it was */
}

int fork_init(const struct launch_spec *spec, struct uid_lease *lease)
{
	int report[2];
	if (unshare(CLONE_NEWPID))
		fail(EXIT_NAMESPACE, "pidns", "unshare: %s", strerror(errno));
	if (pipe2(report, O_CLOEXEC))
		fail(EXIT_NAMESPACE, "pidns", "pipe: %s", strerror(errno));
	pid_t init = fork();
	if (init < 0)
		fail(EXIT_NAMESPACE, "pidns", "fork: %s", strerror(errno));
	if (init == 0) {
		close(report[0]);
		/* The launcher is what the enforcer watches: init never outlives it (the check covers a launcher already gone). */
		struct pollfd reader_gone = {.fd = report[1]};
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) || (poll(&reader_gone, 1, 0) == 1 && (reader_gone.revents & POLLERR)))
			_exit(EXIT_ABORTED);
		return report[1];
	}
	int keep[8] = {report[0]};
	close_other_fds(keep, 1 + uid_lease_fds(lease, keep + 1, 7));
	launch_ctl_fd = -1;
	int status = supervise(init, NULL), reported;
	if (read(report[0], &reported, sizeof(reported)) == sizeof(reported))
		status = reported;
	uid_release(spec, lease);
	end_as(status);
}

void fork_agent(int report, struct notify_server *server)
{
	pid_t agent = fork();
	if (agent < 0)
		fail(EXIT_NAMESPACE, "pidns", "fork: %s", strerror(errno));
	if (agent == 0) {
		close(report);
		return;
	}
	int keep[8] = {report};
	close_other_fds(keep, 1 + notify_init_fds(server, keep + 1, 7));
	launch_ctl_fd = -1;
	if (server)
		notify_start(server);
	int status = supervise(agent, server);
	if (write(report, &status, sizeof(status)) != sizeof(status))
		_exit(EXIT_ABORTED); /* the launcher is gone: so are we, by SIGKILL */
	end_as(status);
}
