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

struct launch_spec {
	uid_t uid;
	gid_t gid;
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
