/* The launch spec: what TypeScript (launch-spec.ts) tells the launcher to do. */
#ifndef AIRLOCK_LAUNCH_SPEC_H
#define AIRLOCK_LAUNCH_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

struct path_rule {
	uint64_t access;
	char *path;
};

struct port_rule {
	uint64_t access;
	uint64_t port;
};

struct seccomp_prog {
	unsigned int flags;
	unsigned short len;
	struct sock_filter *insns;
};

/* Where the agent's uid comes from when the spec gives none: see uid_pool.h. */
struct uid_pool {
	uid_t first;
	uint32_t count; /* 0: the spec gives fixed ids */
	char *dir;      /* lock files, one per uid in use */
};

struct launch_spec {
	uid_t uid; /* fixed, or the pool's free uid once claimed (the gid is the same number) */
	gid_t gid;
	struct uid_pool pool;
	uid_t rest_uid; /* owner of the own and disown paths between runs */
	gid_t rest_gid;
	char **own; /* the agent's for the run (its workspace), handed back after */
	size_t n_own;
	char **disown; /* its other write paths: what it made there is handed back after */
	size_t n_disown;
	char **writable; /* where the metadata check lets chmod, chown, utimes and xattrs through */
	size_t n_writable;
	int kill_on_violation; /* the metadata check ends the agent instead of answering EPERM */
	char **cgroups;
	size_t n_cgroups;
	char *private_tmp; /* NULL: the host's /tmp */
	char **masks;      /* covered by an empty read-only tmpfs once the ruleset is built */
	size_t n_masks;
	int landlock_abi;
	uint64_t landlock_fs, landlock_net, landlock_scope;
	uint32_t landlock_flags;
	struct path_rule *paths;
	size_t n_paths;
	struct port_rule *ports;
	size_t n_ports;
	char **protect;
	size_t n_protect;
	struct seccomp_prog *filters;
	size_t n_filters;
	int notify; /* a filter has SECCOMP_FILTER_FLAG_NEW_LISTENER: init answers its notifications */
	uintptr_t exec_gate; /* 0: exec with "" */
	char *workspace;
	char *program;
	char **argv; /* NULL-terminated */
	size_t argc;
	char **envp; /* NULL-terminated */
	size_t envc;
};

/* Reads the spec from fd until EOF; fails with EXIT_SPEC on anything unexpected. */
void spec_read(int fd, struct launch_spec *spec);

#endif
