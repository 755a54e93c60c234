/* Changing the owners in a tree: how write paths become the agent's for a run and are handed back. */
#ifndef AIRLOCK_LAUNCH_OWNERSHIP_H
#define AIRLOCK_LAUNCH_OWNERSHIP_H

#include <stdint.h>
#include <sys/types.h>

/* Owners that move: a uid (gid) in lo..hi, or equal to also_uid (also_gid), becomes to_uid (to_gid). */
struct owner_change {
	uint32_t lo, hi;
	uid_t also_uid;
	gid_t also_gid;
	uid_t to_uid;
	gid_t to_gid;
};

/*
 * Applies `c` to `path` and everything beneath it. Symlinks are changed
 * themselves, never followed; entries that vanish meanwhile are skipped; a
 * missing path is nothing to do. 0, or -1 with errno (and the entry in `where`).
 */
int change_owners(const char *path, const struct owner_change *c, char *where, size_t where_len);

#endif
