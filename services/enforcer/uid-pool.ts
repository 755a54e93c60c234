/**
 * Every agent `airlock run` starts runs as a uid (and gid, the same number)
 * of its own, unique on the host while it runs, so that no file outside its
 * write paths is ever its own: file permissions then refuse it chmod, chown,
 * explicit times and ACLs there, for which Landlock has no rights. The
 * launcher takes the lowest free uid of the pool and holds it with a lock file
 * under `dir` (host-wide: every install prefix shares the folder) until the
 * agent's tree is gone; a crashed run's uid is free again at once
 * (services/enforcer/native/src/uid_pool.h).
 *
 * The pool, 2000000000–2000065535, lies in the range systemd leaves unused
 * (between its container range, 524288–1879048191, and its foreign range from
 * 2147352576), below 2^31 (for tools that keep ids in a signed int) and far
 * above regular, system and dynamic accounts. The launcher never uses an id
 * that /etc/passwd, /etc/group, /etc/subuid or /etc/subgid gives to anyone.
 *
 * Between runs a workspace belongs to the resting owner, nobody:nogroup: a
 * run makes what the resting owner has there its agent's, and hands it back
 * at the end, with whatever the agent made in its other write paths.
 */

export interface UidPool {
  first: number;
  count: number;
  /** Lock files, one per uid in use (root's alone). */
  dir: string;
}

export const AGENT_UID_POOL: UidPool = { first: 2_000_000_000, count: 65_536, dir: '/run/airlock/uids' };

/** Owner of workspaces between runs (nobody:nogroup). */
export const RESTING_OWNER = { uid: 65534, gid: 65534 } as const;
