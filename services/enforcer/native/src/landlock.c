/*
 * Landlock ruleset. Debian 12's kernel headers stop at ABI 2: the structs and
 * constants of ABI 4-7 are defined here under our own names (values from
 * include/uapi/linux/landlock.h; keep in step with landlock/abi.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/types.h>

#include "common.h"
#include "landlock.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

struct ll_ruleset_attr {
	__u64 handled_access_fs;
	__u64 handled_access_net; /* ABI 4 */
	__u64 scoped;             /* ABI 6 */
};

struct ll_path_beneath_attr {
	__u64 allowed_access;
	__s32 parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
	__u64 allowed_access;
	__u64 port;
};

#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
#define LL_CREATE_RULESET_VERSION (1U << 0)

/* Rights that mean something on a file; the others are for directories and give EINVAL there. */
#define LL_FILE_RIGHTS                                                                         \
	((1ULL << 0) /* EXECUTE */ | (1ULL << 1) /* WRITE_FILE */ | (1ULL << 2) /* READ_FILE */ | \
	 (1ULL << 14) /* TRUNCATE */ | (1ULL << 15) /* IOCTL_DEV */)

struct inode_id {
	dev_t dev;
	ino_t ino;
};

/* Protected roots and all their ancestors, as inodes (the hierarchy Landlock walks). */
struct protected_set {
	struct inode_id *roots;
	const char **root_paths;
	size_t n_roots;
	struct inode_id *above; /* the roots and every ancestor of one */
	const char **above_root;
	size_t n_above;
};

#define MAX_DEPTH 4096

int landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

static int same(struct inode_id a, struct stat *st)
{
	return a.dev == st->st_dev && a.ino == st->st_ino;
}

static void *push(void *array, size_t count, size_t size)
{
	void *p = reallocarray(array, count + 1, size);
	if (!p)
		fail(EXIT_LANDLOCK, "landlock", "out of memory");
	return p;
}

/* Calls visit() on fd's directory and each ancestor up to "/", as the kernel's ".." sees them. */
static int walk_up(int dirfd, int (*visit)(struct stat *, void *), void *ctx, const char *what)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		fail(EXIT_LANDLOCK, "landlock", "dup: %s", strerror(errno));
	for (int depth = 0; depth < MAX_DEPTH; depth++) {
		struct stat st, parent_st;
		if (fstat(fd, &st))
			fail(EXIT_LANDLOCK, "landlock", "stat in %s: %s", what, strerror(errno));
		int r = visit(&st, ctx);
		if (r) {
			close(fd);
			return r;
		}
		int parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (parent < 0 || fstat(parent, &parent_st))
			fail(EXIT_LANDLOCK, "landlock", "walking up from %s: %s", what, strerror(errno));
		close(fd);
		if (parent_st.st_dev == st.st_dev && parent_st.st_ino == st.st_ino) {
			close(parent);
			return 0;
		}
		fd = parent;
	}
	fail(EXIT_LANDLOCK, "landlock", "%s is nested too deep", what);
}

struct add_ctx {
	struct protected_set *set;
	const char *root_path;
};

static int add_above(struct stat *st, void *p)
{
	struct add_ctx *ctx = p;
	struct protected_set *set = ctx->set;
	set->above = push(set->above, set->n_above, sizeof(*set->above));
	set->above_root = push(set->above_root, set->n_above, sizeof(*set->above_root));
	set->above[set->n_above] = (struct inode_id){st->st_dev, st->st_ino};
	set->above_root[set->n_above++] = ctx->root_path;
	return 0;
}

/* The directory a file sits in, as the kernel names it now ("..": ENOTDIR on a file). */
static int parent_of_file(int fd, const char *what)
{
	char link[64], target[PATH_MAX + 1];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, PATH_MAX);
	if (n <= 0)
		fail(EXIT_LANDLOCK, "landlock", "resolving %s: %s", what, n < 0 ? strerror(errno) : "empty");
	target[n] = '\0';
	char *slash = strrchr(target, '/');
	if (target[0] != '/' || !slash)
		fail(EXIT_LANDLOCK, "landlock", "%s resolves to %s, not a path", what, target);
	*(slash == target ? slash + 1 : slash) = '\0';
	int dir = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		fail(EXIT_LANDLOCK, "landlock", "parent of %s: %s", what, strerror(errno));
	return dir;
}

/* A protected root that does not exist (yet) protects nothing on this host; the TypeScript check covered it lexically. */
static void load_protected(const struct launch_spec *spec, struct protected_set *set)
{
	memset(set, 0, sizeof(*set));
	for (size_t i = 0; i < spec->n_protect; i++) {
		const char *path = spec->protect[i];
		int fd = open(path, O_PATH | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;
		struct stat st;
		if (fd < 0 || fstat(fd, &st))
			fail(EXIT_LANDLOCK, "landlock", "protected root %s: %s", path, strerror(errno));
		set->roots = push(set->roots, set->n_roots, sizeof(*set->roots));
		set->root_paths = push(set->root_paths, set->n_roots, sizeof(*set->root_paths));
		set->roots[set->n_roots] = (struct inode_id){st.st_dev, st.st_ino};
		set->root_paths[set->n_roots++] = path;
		struct add_ctx ctx = {set, path};
		if (S_ISDIR(st.st_mode)) {
			walk_up(fd, add_above, &ctx, path);
		} else {
			add_above(&st, &ctx);
			int dir = parent_of_file(fd, path);
			walk_up(dir, add_above, &ctx, path);
			close(dir);
		}
		close(fd);
	}
}

struct inside_ctx {
	const struct protected_set *set;
	const char *hit;
};

static int find_root(struct stat *st, void *p)
{
	struct inside_ctx *ctx = p;
	for (size_t i = 0; i < ctx->set->n_roots; i++) {
		if (same(ctx->set->roots[i], st)) {
			ctx->hit = ctx->set->root_paths[i];
			return 1;
		}
	}
	return 0;
}

static void check_protected(const struct protected_set *set, int fd, struct stat *st, const char *rule)
{
	for (size_t i = 0; i < set->n_above; i++) {
		if (same(set->above[i], st))
			fail(EXIT_PROTECTED, "protected", "the rule for %s would grant the protected root %s",
			     rule, set->above_root[i]);
	}
	struct inside_ctx ctx = {set, NULL};
	int dir = S_ISDIR(st->st_mode) ? fd : parent_of_file(fd, rule);
	if (walk_up(dir, find_root, &ctx, rule))
		fail(EXIT_PROTECTED, "protected", "the rule for %s lies inside the protected root %s", rule,
		     ctx.hit);
	if (dir != fd)
		close(dir);
}

int landlock_build(const struct launch_spec *spec)
{
	struct ll_ruleset_attr attr = {
		.handled_access_fs = spec->landlock_fs,
		.handled_access_net = spec->landlock_net,
		.scoped = spec->landlock_scope,
	};
	int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		fail(EXIT_LANDLOCK, "landlock", "creating the ruleset: %s", strerror(errno));

	struct protected_set set;
	load_protected(spec, &set);

	for (size_t i = 0; i < spec->n_paths; i++) {
		const struct path_rule *r = &spec->paths[i];
		int fd = open(r->path, O_PATH | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue; /* grants nothing: what does not exist stays denied */
		struct stat st;
		if (fd < 0 || fstat(fd, &st))
			fail(EXIT_LANDLOCK, "landlock", "opening %s: %s", r->path, strerror(errno));
		check_protected(&set, fd, &st, r->path);
		struct ll_path_beneath_attr rule = {
			.allowed_access = S_ISDIR(st.st_mode) ? r->access : r->access & LL_FILE_RIGHTS,
			.parent_fd = fd,
		};
		if (rule.allowed_access &&
		    syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0))
			fail(EXIT_LANDLOCK, "landlock", "rule for %s: %s", r->path, strerror(errno));
		close(fd);
	}
	for (size_t i = 0; i < spec->n_ports; i++) {
		struct ll_net_port_attr rule = {.allowed_access = spec->ports[i].access, .port = spec->ports[i].port};
		if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &rule, 0))
			fail(EXIT_LANDLOCK, "landlock", "rule for TCP port %llu: %s",
			     (unsigned long long)rule.port, strerror(errno));
	}
	return ruleset;
}

void landlock_enforce(int ruleset_fd, uint32_t flags)
{
	if (syscall(SYS_landlock_restrict_self, ruleset_fd, flags))
		fail(EXIT_LANDLOCK, "landlock", "restrict_self: %s", strerror(errno));
	close(ruleset_fd);
}
