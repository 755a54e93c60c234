/**
 * The launch spec: everything airlock-launch needs, in its line format
 * (services/enforcer/native/README.md). Pure.
 *
 *   airlock-launch-spec 1
 *   uid 65534 / gid 65534            fixed ids, or:
 *   uid-pool <first> <count> <dir>   a free uid of the pool (gid the same), locked in <dir> while the agent lives
 *   resting-owner <uid> <gid>        who owns the own and disown paths between runs
 *   own <path>                       each: the agent's for the run (its workspace), handed back after
 *   disown <path>                    each: another write path; what the agent made there is handed back after
 *   cgroup <dir>                     each: the launcher writes its pid to <dir>/cgroup.procs
 *   private-tmp <dir>                optional: a fresh tmpfs there (the agent's own)
 *   mask <dir>                       each: an empty read-only tmpfs there once the ruleset is built
 *   landlock-abi / -fs / -net / -scope / -flags <n>
 *   path <access> <path>             Landlock path-beneath rule
 *   port <access> <port>             Landlock TCP port rule
 *   protect <path>                   protected root (checked on inodes)
 *   seccomp <flags> <hex>            a filter, struct sock_filter bytes; installed in order
 *   exec-gate <address>              optional: the path pointer of the one permitted exec
 *   writable <path>                  each: where the metadata check lets chmod, chown, utimes, xattrs through
 *   on-violation kill|deny           what the metadata check does elsewhere
 *   workspace / program <path>
 *   arg <string> / env <string>
 *   end
 * Numbers are decimal; strings are percent-encoded (bytes outside 0x21-0x7e and "%").
 */
import type { LandlockRuleset } from './landlock/index.js';
import { encodeProgram, type SeccompPlan } from './seccomp/index.js';
import type { UidPool } from './uid-pool.js';

/** The agent's ids, given. */
export interface FixedIds {
  uid: number;
  gid: number;
}

/** The agent's ids from a pool (picked by the launcher), and the paths that become its own for the run. */
export interface PooledIds {
  pool: UidPool;
  restingOwner: FixedIds;
  /** Locked for the run, the agent's while it runs, the resting owner's again after (the workspace). */
  own: string[];
  /** Other write paths: what the agent made there goes back to the resting owner after the run. */
  disown: string[];
}

export interface LaunchSpec {
  ids: FixedIds | PooledIds;
  /** Cgroup directories to join before anything else (v1 controllers, the v2 BPF directory). */
  cgroups: string[];
  /** A directory to cover with a private tmpfs in the agent's own mount namespace. */
  privateTmp?: string;
  /** Directories the agent sees empty and read-only (an empty tmpfs over each, after the ruleset is built). */
  masks: string[];
  landlock: LandlockRuleset;
  seccomp: SeccompPlan;
  /** Where the metadata check (the seccomp filter with a listener) lets chmod, chown, utimes and xattr calls through. */
  writable: string[];
  /** Elsewhere: EPERM, or the agent killed. */
  onViolation: 'kill' | 'deny';
  /** The agent's working directory. */
  workspace: string;
  /** Absolute path of the ELF file executed (for a script, its interpreter). */
  program: string;
  argv: string[];
  /** KEY=VALUE entries: the agent's whole environment. */
  env: string[];
}

export function encodeString(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function encodeIds(ids: FixedIds | PooledIds): string[] {
  if (!('pool' in ids)) return [`uid ${ids.uid}`, `gid ${ids.gid}`];
  return [
    `uid-pool ${ids.pool.first} ${ids.pool.count} ${encodeString(ids.pool.dir)}`,
    `resting-owner ${ids.restingOwner.uid} ${ids.restingOwner.gid}`,
    ...ids.own.map((p) => `own ${encodeString(p)}`),
    ...ids.disown.map((p) => `disown ${encodeString(p)}`),
  ];
}

export function encodeLaunchSpec(spec: LaunchSpec): string {
  const ll = spec.landlock;
  const lines = [
    'airlock-launch-spec 1',
    ...encodeIds(spec.ids),
    ...spec.cgroups.map((dir) => `cgroup ${encodeString(dir)}`),
    ...(spec.privateTmp === undefined ? [] : [`private-tmp ${encodeString(spec.privateTmp)}`]),
    ...spec.masks.map((dir) => `mask ${encodeString(dir)}`),
    `landlock-abi ${ll.abi}`,
    `landlock-fs ${ll.handledFs}`,
    `landlock-net ${ll.handledNet}`,
    `landlock-scope ${ll.scoped}`,
    `landlock-flags ${ll.restrictFlags}`,
    ...ll.paths.map((r) => `path ${r.access} ${encodeString(r.path)}`),
    ...ll.ports.map((r) => `port ${r.access} ${r.port}`),
    ...ll.protectedRoots.map((p) => `protect ${encodeString(p)}`),
    ...spec.seccomp.filters.map((f) => `seccomp ${f.flags} ${encodeProgram(f.program).toString('hex')}`),
    ...(spec.seccomp.execGate === undefined ? [] : [`exec-gate ${spec.seccomp.execGate}`]),
    ...spec.writable.map((p) => `writable ${encodeString(p)}`),
    `on-violation ${spec.onViolation}`,
    `workspace ${encodeString(spec.workspace)}`,
    `program ${encodeString(spec.program)}`,
    ...spec.argv.map((a) => `arg ${encodeString(a)}`),
    ...spec.env.map((e) => `env ${encodeString(e)}`),
    'end',
  ];
  return `${lines.join('\n')}\n`;
}
