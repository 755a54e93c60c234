/*
 * The pool's lock files and their records. A record is what a holder may
 * have to hand back: "<resting uid>\0<resting gid>\0" then each own and disown
 * path, NUL-terminated. An empty file is a clean one.
 *
 * A uid (or, the same number, gid) that /etc/passwd, /etc/group, /etc/subuid
 * or /etc/subgid gives to anyone is never used, whatever the pool says.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "ownership.h"
#include "uid_pool.h"

#define die(stage, ...) fail(EXIT_IDS, stage, __VA_ARGS__)
#define RECORD_MAX (1u << 20)
/* How often one uid's file may turn out replaced under us before we give up on it. */
#define MAX_RACES 64

struct id_range {
	uint32_t from, to;
};

struct taken {
	struct id_range *ranges;
	size_t n;
};

static void take(struct taken *t, unsigned long from, unsigned long count)
{
	if (!count || from > UINT32_MAX)
		return;
	struct id_range *r = reallocarray(t->ranges, t->n + 1, sizeof(*r));
	if (!r)
		die("uids", "out of memory");
	t->ranges = r;
	r[t->n++] = (struct id_range){(uint32_t)from, (uint32_t)(from + count - 1 > UINT32_MAX ? UINT32_MAX : from + count - 1)};
}

/* The number in the n-th (from 1) colon-separated field of `line`, or -1. */
static long field_value(const char *line, int n)
{
	const char *p = line;
	for (int i = 1; i < n; i++) {
		p = strchr(p, ':');
		if (!p)
			return -1;
		p++;
	}
	char *end;
	errno = 0;
	unsigned long v = strtoul(p, &end, 10);
	if (end == p || errno || (*end != ':' && *end != '\n' && *end != '\0') || v > UINT32_MAX)
		return -1;
	return (long)v;
}

/* The ids each line of `file` gives out: fields `a` and `b` (0: none), or with `count` a range from `a` of that length. */
static void taken_in(struct taken *t, const char *file, int a, int b, int count)
{
	FILE *f = fopen(file, "re");
	if (!f)
		return; /* a host without subordinate ids */
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		if (line[0] == '#')
			continue;
		long first = field_value(line, a), length = count ? field_value(line, count) : 1;
		if (first >= 0 && length > 0)
			take(t, (unsigned long)first, (unsigned long)length);
		long second = b ? field_value(line, b) : -1;
		if (second >= 0)
			take(t, (unsigned long)second, 1);
	}
	free(line);
	fclose(f);
}

static int is_taken(const struct taken *t, uint32_t id)
{
	for (size_t i = 0; i < t->n; i++) {
		if (id >= t->ranges[i].from && id <= t->ranges[i].to)
			return 1;
	}
	return 0;
}

/* The folder, made as root-only where missing; refused when others could plant files in it. */
static int open_pool_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 || errno != ENOENT)
		goto check;
	char path[4096];
	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		die("uids", "%s: path too long", dir);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char end = *p;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST)
			die("uids", "mkdir %s: %s", path, strerror(errno));
		if (!end)
			break;
		*p = '/';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
check:
	if (fd < 0 || fstat(fd, &st))
		die("uids", "%s: %s", dir, strerror(errno));
	if (st.st_uid != 0 || (st.st_mode & 022))
		die("uids", "%s must be root's and writable by root alone", dir);
	return fd;
}

/* Hands what a record names back to its resting owner; 0 when all of it is back. */
static int hand_back(int slot, uid_t uid)
{
	static char record[RECORD_MAX];
	ssize_t n = pread(slot, record, sizeof(record) - 1, 0);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	record[n] = '\0';
	char *rest_uid = record, *rest_gid = memchr(record, '\0', (size_t)n);
	if (!rest_gid || rest_gid + 1 >= record + n)
		return -1;
	rest_gid++;
	struct owner_change back = {uid, uid, uid, uid, (uid_t)strtoul(rest_uid, NULL, 10), (gid_t)strtoul(rest_gid, NULL, 10)};
	if (back.to_uid == 0 || back.to_gid == 0)
		return -1;
	int r = 0;
	char where[256];
	for (char *p = rest_gid + strlen(rest_gid) + 1; p < record + n; p += strlen(p) + 1) {
		if (p[0] == '/' && change_owners(p, &back, where, sizeof(where)))
			r = -1;
	}
	return r || ftruncate(slot, 0) ? -1 : 0;
}

/* Into a file left empty (new, or handed back): one write. */
static void write_record(int slot, const struct launch_spec *spec)
{
	static char record[RECORD_MAX];
	size_t len = (size_t)snprintf(record, sizeof(record), "%u%c%u%c", (unsigned)spec->rest_uid, '\0', (unsigned)spec->rest_gid, '\0');
	char **lists[] = {spec->own, spec->disown};
	size_t counts[] = {spec->n_own, spec->n_disown};
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < counts[k]; i++) {
			size_t n = strlen(lists[k][i]) + 1;
			if (len + n > sizeof(record))
				die("uids", "writing the uid's record: too long");
			memcpy(record + len, lists[k][i], n);
			len += n;
		}
	}
	if (pwrite(slot, record, len, 0) != (ssize_t)len)
		die("uids", "writing the uid's record: %s", strerror(errno));
}

/* Locks DIR/<uid> if no one holds it: its descriptor, or -1. Its record, if a dead holder left one, is handed back first. */
static int lock_slot(int dir, uid_t uid)
{
	char name[16];
	snprintf(name, sizeof(name), "%u", (unsigned)uid);
	for (int race = 0; race < MAX_RACES; race++) {
		int fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			die("uids", "lock file %s: %s", name, strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			if (errno != EWOULDBLOCK)
				die("uids", "locking %s: %s", name, strerror(errno));
			close(fd);
			return -1;
		}
		struct stat held, named;
		if (fstat(fd, &held) == 0 && fstatat(dir, name, &named, AT_SYMLINK_NOFOLLOW) == 0 && held.st_dev == named.st_dev &&
		    held.st_ino == named.st_ino) {
			if (hand_back(fd, uid) == 0)
				return fd;
			close(fd); /* what it owned cannot all be handed back: leave the uid unused */
			return -1;
		}
		close(fd); /* released and removed meanwhile: open the name again */
	}
	return -1;
}

static void unlock_slot(int dir, int slot, uid_t uid)
{
	char name[16];
	snprintf(name, sizeof(name), "%u", (unsigned)uid);
	if (ftruncate(slot, 0) == 0)
		unlinkat(dir, name, 0);
	close(slot);
}

void uid_claim(struct launch_spec *spec, struct uid_lease *lease)
{
	memset(lease, 0, sizeof(*lease));
	lease->dir = lease->slot = -1;
	if (!spec->pool.count)
		return;
	lease->dir = open_pool_dir(spec->pool.dir);
	struct taken taken = {0};
	taken_in(&taken, "/etc/passwd", 3, 4, 0); /* name:x:uid:gid:... */
	taken_in(&taken, "/etc/group", 3, 0, 0);  /* name:x:gid:members */
	taken_in(&taken, "/etc/subuid", 2, 0, 3); /* name:start:count */
	taken_in(&taken, "/etc/subgid", 2, 0, 3);
	for (uint32_t i = 0; i < spec->pool.count && lease->slot < 0; i++) {
		uid_t uid = spec->pool.first + i;
		if (is_taken(&taken, uid))
			continue;
		lease->slot = lock_slot(lease->dir, uid);
		spec->uid = spec->gid = uid;
	}
	free(taken.ranges);
	if (lease->slot < 0)
		die("uids", "none of the %u uids from %u is free", spec->pool.count, (unsigned)spec->pool.first);
	/* The walks start from what the paths name (a workspace given through a symlink is its target). */
	char **lists[] = {spec->own, spec->disown};
	size_t counts[] = {spec->n_own, spec->n_disown};
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < counts[k]; i++) {
			char *real = realpath(lists[k][i], NULL);
			if (real)
				lists[k][i] = real;
			else if (k == 0)
				die("owner", "%s: %s", lists[k][i], strerror(errno));
		}
	}
	/* Recorded before anything changes: a launcher dying from here on leaves the record to whoever comes next. */
	write_record(lease->slot, spec);

	lease->locks = calloc(spec->n_own, sizeof(*lease->locks));
	if (spec->n_own && !lease->locks)
		die("uids", "out of memory");
	for (size_t i = 0; i < spec->n_own; i++) {
		int fd = open(spec->own[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 && errno != ENOTDIR)
			die("owner", "%s: %s", spec->own[i], strerror(errno));
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) {
			int e = errno;
			unlock_slot(lease->dir, lease->slot, spec->uid); /* nothing was changed yet */
			if (e == EWOULDBLOCK)
				die("owner", "%s is the workspace of another running agent", spec->own[i]);
			die("owner", "locking %s: %s", spec->own[i], strerror(e));
		}
		if (fd >= 0)
			lease->locks[lease->n_locks++] = fd;
	}
	uint32_t last = spec->pool.first + spec->pool.count - 1;
	struct owner_change give = {spec->pool.first, last, spec->rest_uid, spec->rest_gid, spec->uid, spec->gid};
	char where[256];
	for (size_t i = 0; i < spec->n_own; i++) {
		if (change_owners(spec->own[i], &give, where, sizeof(where)))
			die("owner", "giving %s to uid %u: %s: %s", spec->own[i], (unsigned)spec->uid, where, strerror(errno));
	}
}

void uid_release(const struct launch_spec *spec, struct uid_lease *lease)
{
	if (lease->slot < 0)
		return;
	struct owner_change back = {spec->uid, spec->uid, spec->uid, spec->gid, spec->rest_uid, spec->rest_gid};
	int clean = 1;
	char where[256];
	char **lists[] = {spec->own, spec->disown};
	size_t counts[] = {spec->n_own, spec->n_disown};
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < counts[k]; i++) {
			if (change_owners(lists[k][i], &back, where, sizeof(where)))
				clean = 0;
		}
	}
	for (size_t i = 0; i < lease->n_locks; i++)
		close(lease->locks[i]);
	if (clean)
		unlock_slot(lease->dir, lease->slot, spec->uid);
	else
		close(lease->slot); /* the record stays: the uid's next holder hands back what is left */
	close(lease->dir);
	lease->slot = -1;
}

size_t uid_lease_fds(const struct uid_lease *lease, int *fds, size_t max)
{
	size_t n = 0;
	if (lease->slot < 0)
		return 0;
	if (n + 2 + lease->n_locks > max)
		fail(EXIT_IDS, "uids", "too many descriptors to keep");
	fds[n++] = lease->dir;
	fds[n++] = lease->slot;
	for (size_t i = 0; i < lease->n_locks; i++)
		fds[n++] = lease->locks[i];
	return n;
}
