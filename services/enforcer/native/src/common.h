/* Shared by the launcher's parts: exit codes and the one way to fail. */
#ifndef AIRLOCK_LAUNCH_COMMON_H
#define AIRLOCK_LAUNCH_COMMON_H

/*
 * Exit codes before exec: each names the stage that refused, and nothing of
 * the agent ran. They are part of the interface (launch.ts maps them to
 * error codes; README documents them). After exec the status is the agent's.
 */
enum launch_exit {
	EXIT_USAGE = 110,      /* bad command line */
	EXIT_SPEC = 111,       /* launch spec unreadable or invalid */
	EXIT_UNAVAILABLE = 112,/* a required layer is missing (Landlock ABI, seccomp, exec gate) */
	EXIT_CGROUP = 113,     /* joining a cgroup failed */
	EXIT_NAMESPACE = 114,  /* PID/mount/cgroup namespace, its /proc, a mask or private tmp failed */
	EXIT_PROGRAM = 115,    /* opening the program or mapping the exec gate failed */
	EXIT_PROTECTED = 116,  /* a rule is, contains or is inside a protected root */
	EXIT_LANDLOCK = 117,   /* building or applying the Landlock ruleset failed */
	EXIT_ABORTED = 118,    /* the enforcer closed the control channel without "go" */
	EXIT_PRIVILEGES = 119, /* dropping uid/gid/capabilities or no_new_privs failed */
	EXIT_WORKSPACE = 120,  /* chdir to the workspace failed */
	EXIT_FDS = 121,        /* closing inherited descriptors failed */
	EXIT_SECCOMP = 122,    /* installing a seccomp filter failed */
	EXIT_EXEC = 123,       /* execveat itself failed */
	EXIT_IDS = 124,        /* no free uid in the pool, or a workspace is another running agent's */
	EXIT_NOTIFY = 125,     /* after exec: init could not go on checking metadata calls (the agent was killed) */
};

/* Where failures are also reported as "error <code> <stage> <reason>\n" (-1: nowhere). */
extern int launch_ctl_fd;

/* One line on stderr ("airlock-launch: <stage>: <reason>"), one on the control fd, exit. */
_Noreturn void fail(int code, const char *stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
