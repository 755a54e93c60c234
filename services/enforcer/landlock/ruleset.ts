/**
 * The Landlock layer: a compiled policy's filesystem and network sections as a
 * ruleset the launcher applies to itself just before it executes the agent.
 * Pure: the launcher opens the paths (and resolves symlinks) itself.
 *
 * Filesystem: every right is handled, so whatever is not granted is denied.
 * read → read files and list directories; write → read plus create, write,
 * truncate, rename, link and remove (never device nodes); exec → read plus
 * execute. Device ioctls are granted only on the null-like devices (below).
 *
 * Protected roots (cgroupfs, the appliance's prefix, audit log, policy repo):
 * Landlock only grants, and a grant covers a whole hierarchy, so a granted
 * parent of a protected root would open it. A ruleset in which any granted
 * path is, contains or lies inside a protected root is refused
 * (ENFORCER_PROTECTED_PATH) rather than carved around: carving would silently
 * drop the parent's own rights (create, list) and change what the policy says.
 * This check is lexical; the launcher repeats it on the inodes it actually
 * opened, which catches symlinks and `..` tricks without a race.
 *
 * Network: Landlock sees TCP ports only. With no network at all, TCP bind and
 * connect are both denied. With egress rules that all name ports (and no
 * loopback), connect is limited to the union of those ports plus the
 * resolver's; otherwise connect is left to the eBPF layer, which sees
 * addresses too. Landlock is a second wall here, never stricter than policy.
 */
import { LaunchError, LaunchErrorCodes } from '../errors.js';
import type { CompiledFilesystem, CompiledNetwork } from '../policy/types.js';
import { hasNetwork } from '../seccomp/index.js';
import { ACCESS_FS, ACCESS_NET, ALL_ACCESS_FS, REQUIRED_ABI, RESTRICT_SELF, SCOPE } from './abi.js';

const READ = ACCESS_FS.READ_FILE | ACCESS_FS.READ_DIR;
const WRITE =
  READ |
  ACCESS_FS.WRITE_FILE |
  ACCESS_FS.TRUNCATE |
  ACCESS_FS.REMOVE_DIR |
  ACCESS_FS.REMOVE_FILE |
  ACCESS_FS.MAKE_DIR |
  ACCESS_FS.MAKE_REG |
  ACCESS_FS.MAKE_SOCK |
  ACCESS_FS.MAKE_FIFO |
  ACCESS_FS.MAKE_SYM |
  ACCESS_FS.REFER;
const EXEC = READ | ACCESS_FS.EXECUTE;

export const GRANTS = { read: READ, write: WRITE, exec: EXEC } as const;

/**
 * isatty() on a stream redirected to /dev/null asks the device with an ioctl
 * (TCGETS): denied, that is a violation, and under on_violation: kill it
 * ended every `cmd >/dev/null`. These drivers offer no ioctl an unprivileged
 * process can use (random's need CAP_SYS_ADMIN), so a grant of one of them
 * carries the ioctl right.
 */
export const IOCTL_HARMLESS_DEVICES: ReadonlySet<string> = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom']);

/** Above this many distinct ports, connect is left to the eBPF layer rather than adding a rule a port. */
export const MAX_PORT_RULES = 1024;

export interface PathRule {
  path: string;
  /** LANDLOCK_ACCESS_FS_* granted beneath the path (the launcher keeps only file rights for a file). */
  access: number;
}

export interface PortRule {
  port: number;
  access: number;
}

export interface LandlockRuleset {
  /** The lowest Landlock ABI that can enforce this ruleset. */
  abi: number;
  handledFs: number;
  handledNet: number;
  scoped: number;
  restrictFlags: number;
  paths: PathRule[];
  ports: PortRule[];
  /** Roots no rule may be, contain or sit inside (checked again by the launcher on inodes). */
  protectedRoots: string[];
}

export interface RulesetInput {
  filesystem: CompiledFilesystem;
  network: CompiledNetwork;
  /** Grants the runtime adds to the policy's (e.g. running the agent's own program). */
  extra?: readonly PathRule[];
  protectedRoots: readonly string[];
}

function isWithin(path: string, root: string): boolean {
  return path === root || root === '/' || path.startsWith(`${root}/`);
}

function checkAbsolute(path: string, what: string): void {
  if (!path.startsWith('/') || path.includes('\0')) {
    throw new LaunchError(LaunchErrorCodes.SPEC_INVALID, `${what} "${path}" is not an absolute path`, {
      hint: 'the policy compiler produces absolute paths: pass its output unchanged',
      details: { path },
    });
  }
}

export function planRuleset(input: RulesetInput): LandlockRuleset {
  const access = new Map<string, number>();
  const grant = (path: string, rights: number): void => {
    checkAbsolute(path, 'granted path');
    access.set(path, (access.get(path) ?? 0) | rights | (IOCTL_HARMLESS_DEVICES.has(path) ? ACCESS_FS.IOCTL_DEV : 0));
  };
  input.filesystem.read.forEach((p) => grant(p, READ));
  input.filesystem.write.forEach((p) => grant(p, WRITE));
  input.filesystem.exec.forEach((p) => grant(p, EXEC));
  input.extra?.forEach((r) => grant(r.path, r.access));

  const protectedRoots = [...new Set(input.protectedRoots)];
  protectedRoots.forEach((p) => checkAbsolute(p, 'protected root'));
  for (const path of access.keys()) {
    const root = protectedRoots.find((p) => isWithin(path, p) || isWithin(p, path));
    if (root !== undefined) {
      throw new LaunchError(
        LaunchErrorCodes.PROTECTED_PATH,
        isWithin(path, root) ? `the policy grants "${path}", inside the protected root "${root}"` : `the policy grants "${path}", which contains the protected root "${root}"`,
        {
          hint: 'grant narrower paths: an agent may never reach cgroupfs or the appliance’s own files',
          details: { path, protectedRoot: root },
        },
      );
    }
  }

  const connect = connectPorts(input.network);
  const ports = (connect ?? []).map((port) => ({ port, access: ACCESS_NET.CONNECT_TCP }));
  let handledNet = connect === undefined ? 0 : ACCESS_NET.CONNECT_TCP;
  if (!hasNetwork(input.network)) handledNet |= ACCESS_NET.BIND_TCP;

  return {
    abi: REQUIRED_ABI,
    handledFs: ALL_ACCESS_FS,
    handledNet,
    scoped: SCOPE.SIGNAL | SCOPE.ABSTRACT_UNIX_SOCKET,
    restrictFlags: RESTRICT_SELF.LOG_NEW_EXEC_ON,
    paths: [...access].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, rights]) => ({ path, access: rights })),
    ports,
    protectedRoots,
  };
}

/** TCP ports the agent may connect to, or undefined when ports alone cannot express the policy. */
function connectPorts(network: CompiledNetwork): number[] | undefined {
  if (!hasNetwork(network)) return [];
  if (network.loopback) return undefined;
  const ports = new Set<number>();
  for (const rule of network.allow) {
    if (rule.protocol === 'udp') continue;
    if (rule.ports.length === 0) return undefined;
    for (const [from, to] of rule.ports) {
      if (to - from + 1 + ports.size > MAX_PORT_RULES) return undefined;
      for (let port = from; port <= to; port++) ports.add(port);
    }
  }
  if (network.resolver) ports.add(network.resolver.port);
  return [...ports].sort((a, b) => a - b);
}
