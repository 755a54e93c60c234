/*
 * Walks a tree by descriptors (openat with O_NOFOLLOW, fstatat and fchownat
 * with AT_SYMLINK_NOFOLLOW): a symlink planted in the tree is changed itself
 * and never leads the walk elsewhere. As root, chown clears the set-user-ID
 * and set-group-ID bits of what it changes, so nothing the agent made runs
 * with another owner's rights after the run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ownership.h"

/* Deeper trees are refused rather than walked with one descriptor a level. */
#define MAX_DEPTH 512

static int moves(uint32_t id, const struct owner_change *c, uint32_t also)
{
	return (id >= c->lo && id <= c->hi) || id == also;
}

struct walk {
	const struct owner_change *c;
	char *where;
	size_t where_len;
};

static int failed(struct walk *w, const char *name)
{
	int e = errno;
	snprintf(w->where, w->where_len, "%s", name);
	errno = e;
	return -1;
}

static int walk(struct walk *w, int parent, const char *name, int depth)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : failed(w, name);
	uid_t uid = moves(st.st_uid, w->c, w->c->also_uid) && st.st_uid != w->c->to_uid ? w->c->to_uid : (uid_t)-1;
	gid_t gid = moves(st.st_gid, w->c, w->c->also_gid) && st.st_gid != w->c->to_gid ? w->c->to_gid : (gid_t)-1;
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) && errno != ENOENT)
		return failed(w, name);
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (depth >= MAX_DEPTH) {
		errno = ELOOP;
		return failed(w, name);
	}
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : failed(w, name); /* replaced meanwhile */
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return failed(w, name);
	}
	int r = 0;
	for (struct dirent *e; r == 0 && (errno = 0, e = readdir(dir));) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = walk(w, fd, e->d_name, depth + 1);
	}
	if (r == 0 && errno)
		r = failed(w, name);
	int e = errno;
	closedir(dir);
	errno = e;
	return r;
}

int change_owners(const char *path, const struct owner_change *c, char *where, size_t where_len)
{
	struct walk w = {c, where, where_len};
	return walk(&w, AT_FDCWD, path, 0);
}
