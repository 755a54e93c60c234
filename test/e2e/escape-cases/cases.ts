/**
 * The escape corpus of test/e2e/42_escape.test.ts, as data: one row per
 * attempt, each with what the agent must see under `on_violation: deny` and
 * the audit event that must record it (the same event, verdict `kill`, is the
 * violation that ends the agent under `on_violation: kill`).
 *
 * Steps are arguments of escape-probe.c (`op:arg,arg`). Placeholders in
 * braces are filled in per run (test/helpers/escape-world.ts):
 *   {ws} the workspace (nobody's at rest, the agent's own uid's while it runs),
 *   {out} a folder beside it that no policy grants (nobody's and open to any
 *   uid, so file permissions alone would let it through — except for what
 *   only an owner may do, which the agent's own uid never is there),
 *   {prefix} {audit} the appliance, {outsider} a process outside any agent
 *   (same uid, cwd {outsiderDir}), {ns4} {ns6} servers in a network namespace
 *   (TCP 53 8080 9090, UDP 53 5353), {host4} {host6} servers on the host end
 *   of its veth (TCP 53 8080), {lport} a loopback server (127.0.0.1 and ::1),
 *   {away} a cgroup delegated to the agent's uid, {handle} a file handle made
 *   on the host, {bin} the probe's folder, {hostsock} a UNIX stream socket on
 *   the host that any uid may connect to.
 *
 * The last step of a row is the attempt; steps before it are allowed set-up.
 * Every row also runs outside any agent while agents run (`host`): the same
 * attempt must work there, which shows each denial is the enforcer's.
 */

export type Profile = 'sandbox' | 'development' | 'production';
export type Layer = 'landlock' | 'seccomp' | 'ebpf' | 'cgroup';
export type Group = 'filesystem' | 'appliance' | 'network' | 'sockets' | 'processes' | 'kernel';

export interface AuditExpectation {
  layer: Layer;
  /** One name, or the names a correct translation may use. */
  operation: string | string[];
  target: string;
  rule?: string;
}

export interface EscapeCase {
  id: string;
  name: string;
  group: Group;
  profile: Profile;
  steps: string[];
  /** errno of the attempt under `on_violation: deny` (set-up steps must be `ok`). */
  errno: string | string[];
  audit: AuditExpectation;
  /** Further events the same attempt must leave (the kernel reports some attempts once per folder). */
  alsoAudits?: AuditExpectation[];
  /** Files the attempt aimed at: the host checks mode, times, size, content and extended attributes are unchanged. */
  guards?: string[];
  /** The same attempt outside any agent: as whom, and what it must get (the kernel's own answer). */
  host: { as: 'nobody' | 'root'; expect: readonly string[]; steps?: string[] } | null;
  /** The attempt replaces the process when it wrongly succeeds (exec): run it alone, not in the group's run. */
  alone?: boolean;
  /** Needs the run's own workspace (no --workspace). */
  defaultWorkspace?: boolean;
  /**
   * With the launcher's PID namespace (private /proc, masked cgroupfs) the
   * target is not even visible: this errno, no event (nothing reached a layer).
   */
  pidns?: { errno: string };
  /**
   * Aimed at the audit log: the suite loosens its file modes (folder 0755,
   * file 0666) while the attempt runs, so that the policy alone stands in the
   * way (otherwise the file permissions refuse it first, before any layer).
   */
  auditLogOpened?: boolean;
}

const NOBODY_OK = { as: 'nobody', expect: ['ok'] } as const;
const ROOT_OK = { as: 'root', expect: ['ok'] } as const;

/** The metadata check's rule (launch-reports.ts): its refusals are seccomp-layer events (it is a seccomp filter's listener). */
const METADATA = 'filesystem.write: metadata outside the write paths';

export const ESCAPE_CASES: EscapeCase[] = [
  // ------------------------------------------------------------ filesystem (Landlock)
  { id: 'F01', name: 'read a denied file directly', group: 'filesystem', profile: 'sandbox', steps: ['read:{out}/direct'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'read', target: '{out}/direct', rule: 'not granted: fs.read_file' }, host: NOBODY_OK },
  { id: 'F02', name: 'read it through a symlink made before the run', group: 'filesystem', profile: 'sandbox', steps: ['read:{ws}/link-before'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'read', target: '{out}/symlink-before' }, host: NOBODY_OK },
  { id: 'F03', name: 'read it through a symlink made during the run', group: 'filesystem', profile: 'sandbox', steps: ['symlink:{out}/symlink-during,{ws}/link-during', 'read:{ws}/link-during'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'read', target: '{out}/symlink-during' }, host: { as: 'nobody', expect: ['ok', 'ok'] } },
  { id: 'F04', name: 'hard-link it into the workspace during the run', group: 'filesystem', profile: 'sandbox', steps: ['link:{out}/hardlink,{ws}/hardlink'], errno: 'EXDEV', audit: { layer: 'landlock', operation: 'link', target: '{out}' }, alsoAudits: [{ layer: 'landlock', operation: 'link', target: '{ws}' }], host: NOBODY_OK },
  { id: 'F05', name: 'read it through /proc/self/root', group: 'filesystem', profile: 'sandbox', steps: ['read:/proc/self/root{out}/proc-root'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'read', target: '{out}/proc-root' }, host: NOBODY_OK },
  { id: 'F06', name: "read it through /proc/<pid>/cwd of a process outside", group: 'filesystem', profile: 'sandbox', steps: ['read:/proc/{outsider}/cwd/cwd-secret'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'ptrace', target: 'pid {outsider} (sleep)' }, host: NOBODY_OK, pidns: { errno: 'ENOENT' } },
  { id: 'F07', name: 'read it through ..', group: 'filesystem', profile: 'sandbox', steps: ['read:{ws}/../out/dotdot'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'read', target: '{out}/dotdot' }, host: NOBODY_OK },
  { id: 'F08', name: 'list a denied folder', group: 'filesystem', profile: 'sandbox', steps: ['list:{out}'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'list', target: '{out}', rule: 'not granted: fs.read_dir' }, host: NOBODY_OK },
  { id: 'F09', name: 'write a file outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['write:{out}/write'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'write', target: '{out}/write', rule: 'not granted: fs.write_file' }, guards: ['{out}/write'], host: NOBODY_OK },
  { id: 'F10', name: 'create a file outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['create:{out}/created'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'create', target: '{out}', rule: 'not granted: fs.make_reg' }, host: NOBODY_OK },
  { id: 'F11', name: 'rename a file outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['rename:{out}/rename,{out}/renamed'], errno: 'EACCES', audit: { layer: 'landlock', operation: ['remove', 'rename'], target: '{out}' }, guards: ['{out}/rename'], host: NOBODY_OK },
  { id: 'F12', name: 'rename a file from outside into the workspace', group: 'filesystem', profile: 'sandbox', steps: ['rename:{out}/steal,{ws}/stolen'], errno: ['EACCES', 'EXDEV'], audit: { layer: 'landlock', operation: ['remove', 'rename', 'link'], target: '{out}' }, alsoAudits: [{ layer: 'landlock', operation: ['rename', 'link'], target: '{ws}' }], guards: ['{out}/steal'], host: NOBODY_OK },
  { id: 'F13', name: 'unlink a file outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['unlink:{out}/unlink'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'remove', target: '{out}', rule: 'not granted: fs.remove_file' }, guards: ['{out}/unlink'], host: NOBODY_OK },
  { id: 'F14', name: 'make a folder outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['mkdir:{out}/made'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'create', target: '{out}', rule: 'not granted: fs.make_dir' }, host: NOBODY_OK },
  { id: 'F15', name: 'remove a folder outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['rmdir:{out}/empty'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'remove', target: '{out}', rule: 'not granted: fs.remove_dir' }, host: NOBODY_OK },
  { id: 'F16', name: 'chmod a file outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['chmod:{out}/chmod,777'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'chmod', target: '{out}/chmod', rule: METADATA }, guards: ['{out}/chmod'], host: NOBODY_OK },
  { id: 'F17', name: 'set an extended attribute on a file outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['setxattr:{out}/xattr'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'setxattr', target: '{out}/xattr', rule: METADATA }, guards: ['{out}/xattr'], host: NOBODY_OK },
  { id: 'F18', name: 'change the times of a file outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['utimes:{out}/utimes'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'utimes', target: '{out}/utimes', rule: METADATA }, guards: ['{out}/utimes'], host: NOBODY_OK },
  { id: 'F19', name: 'truncate a file outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['truncate:{out}/truncate'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'truncate', target: '{out}/truncate', rule: 'not granted: fs.truncate' }, guards: ['{out}/truncate'], host: NOBODY_OK },
  { id: 'F20', name: 'make a device node in the workspace (never granted)', group: 'filesystem', profile: 'sandbox', steps: ['mknod-char:{ws}/null'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'mknod', target: '{ws}', rule: 'not granted: fs.make_char' }, host: ROOT_OK },
  { id: 'F21', name: 'make a fifo outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['mkfifo:{out}/fifo'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'create', target: '{out}', rule: 'not granted: fs.make_fifo' }, host: NOBODY_OK },
  { id: 'F22', name: 'open_by_handle_at with a handle of a denied file', group: 'filesystem', profile: 'sandbox', steps: ['open-by-handle:{handle},{ws}'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'open_by_handle_at' }, host: ROOT_OK },
  { id: 'F23', name: 'name_to_handle_at (making handles)', group: 'filesystem', profile: 'sandbox', steps: ['name-to-handle:{out}/direct'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'name_to_handle_at' }, host: NOBODY_OK },
  { id: 'F24', name: 'execute a program it wrote (production runs system programs only)', group: 'filesystem', profile: 'production', steps: ['exec:{ws}/dropped'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'exec', target: '{ws}/dropped', rule: 'not granted: fs.execute' }, host: NOBODY_OK },
  { id: 'F25', name: 'chown a file outside the write paths (to the owner it has)', group: 'filesystem', profile: 'sandbox', steps: ['chown:{out}/chown,65534'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'chown', target: '{out}/chown', rule: METADATA }, guards: ['{out}/chown'], host: NOBODY_OK },
  { id: 'F26', name: 'fchmod through a descriptor opened read-only outside the write paths', group: 'filesystem', profile: 'sandbox', steps: ['fchmod-ro:/etc/passwd,666'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'chmod', target: '/etc/passwd', rule: METADATA }, guards: ['/etc/passwd'], host: { as: 'nobody', expect: ['EPERM'] } },
  { id: 'F27', name: 'fchmodat through a symlink in the workspace swapped to a file outside during the run', group: 'filesystem', profile: 'sandbox', steps: ['symlink:{ws}/in.txt,{ws}/swap', 'fchmodat:{ws}/swap,644', 'symlink:{out}/swapped,{ws}/swap.new', 'rename:{ws}/swap.new,{ws}/swap', 'fchmodat:{ws}/swap,777'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'chmod', target: '{out}/swapped', rule: METADATA }, guards: ['{out}/swapped'], host: { as: 'nobody', expect: ['ok'] } },

  // ------------------------------------------------------------ the appliance's own files
  { id: 'A01', name: 'list the appliance prefix', group: 'appliance', profile: 'sandbox', steps: ['list:{prefix}'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'list', target: '{prefix}' }, host: NOBODY_OK },
  { id: 'A02', name: "plant a file in the appliance's var/", group: 'appliance', profile: 'sandbox', steps: ['create:{prefix}/var/planted'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'create', target: '{prefix}/var' }, host: { as: 'root', expect: ['ok'], steps: ['create:{prefix}/var/planted-by-{tag}'] } },
  { id: 'A03', name: 'list the other agents\' workspaces from its default one (..)', group: 'appliance', profile: 'sandbox', steps: ['list:..'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'list', target: '{prefix}/var/workspaces' }, defaultWorkspace: true, host: null },
  { id: 'A04', name: "list the appliance's var/ from its default workspace (../..)", group: 'appliance', profile: 'sandbox', steps: ['list:../..'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'list', target: '{prefix}/var' }, defaultWorkspace: true, host: null },
  { id: 'A05', name: 'leave its cgroup by writing cgroup.procs of one delegated to its uid', group: 'appliance', profile: 'sandbox', steps: ['cgroup-procs:{away}'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'write', target: '{away}/cgroup.procs' }, host: NOBODY_OK, pidns: { errno: 'ENOENT' } },

  { id: 'A06', name: 'read the audit log (its modes loosened)', group: 'appliance', profile: 'sandbox', steps: ['read:{audit}'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'read', target: '{audit}' }, auditLogOpened: true, host: ROOT_OK },
  { id: 'A07', name: 'append to the audit log (its modes loosened)', group: 'appliance', profile: 'sandbox', steps: ['append:{audit}'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'write', target: '{audit}' }, auditLogOpened: true, host: null },

  // ------------------------------------------------------------ network
  { id: 'N01', name: 'TCP to a non-allowed IPv4 address', group: 'network', profile: 'development', steps: ['tcp:{ns4},8080'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'connect', target: '{ns4}:8080/tcp', rule: 'deny_egress: *' }, host: NOBODY_OK },
  { id: 'N02', name: 'TCP to a non-allowed IPv6 address', group: 'network', profile: 'development', steps: ['tcp:{ns6},8080'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'connect', target: '[{ns6}]:8080/tcp', rule: 'deny_egress: *' }, host: NOBODY_OK },
  { id: 'N03', name: 'TCP to a non-allowed address written v4-mapped (::ffff:a.b.c.d)', group: 'network', profile: 'development', steps: ['tcp:::ffff:{ns4},8080'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'connect', target: '{ns4}:8080/tcp', rule: 'deny_egress: *' }, host: NOBODY_OK },
  { id: 'N04', name: 'UDP to a non-allowed address', group: 'network', profile: 'development', steps: ['udp:{ns4},5353'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'send', target: '{ns4}:5353/udp' }, host: NOBODY_OK },
  { id: 'N05', name: 'TCP to an allowed host on a non-allowed port', group: 'network', profile: 'production', steps: ['tcp:{ns4},9090'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'connect', target: '{ns4}:9090/tcp', rule: 'not granted: net.connect_tcp' }, host: NOBODY_OK },
  { id: 'N06', name: 'TCP to an allowed IPv6 host on a non-allowed port', group: 'network', profile: 'production', steps: ['tcp:{ns6},9090'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'connect', target: '[{ns6}]:9090/tcp' }, host: NOBODY_OK },
  { id: 'N07', name: 'TCP to an allowed host on a non-allowed port, v4-mapped', group: 'network', profile: 'production', steps: ['tcp:::ffff:{ns4},9090'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'connect', target: '{ns4}:9090/tcp' }, host: NOBODY_OK },
  { id: 'N08', name: 'TCP to a non-allowed IPv4 address on an allowed port', group: 'network', profile: 'production', steps: ['tcp:{host4},8080'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'connect', target: '{host4}:8080/tcp', rule: 'deny_egress: *' }, host: NOBODY_OK },
  { id: 'N09', name: 'TCP to a non-allowed IPv6 address on an allowed port', group: 'network', profile: 'production', steps: ['tcp:{host6},8080'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'connect', target: '[{host6}]:8080/tcp', rule: 'deny_egress: *' }, host: NOBODY_OK },
  { id: 'N10', name: 'TCP to a non-allowed address on an allowed port, v4-mapped', group: 'network', profile: 'production', steps: ['tcp:::ffff:{host4},8080'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'connect', target: '{host4}:8080/tcp', rule: 'deny_egress: *' }, host: NOBODY_OK },
  { id: 'N11', name: 'DNS over UDP to another resolver', group: 'network', profile: 'production', steps: ['udp:{host4},53'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'send', target: '{host4}:53/udp', rule: 'DNS goes only to the appliance resolver' }, host: NOBODY_OK },
  { id: 'N12', name: 'DNS over UDP to another resolver, IPv6', group: 'network', profile: 'production', steps: ['udp:{ns6},53'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'send', target: '[{ns6}]:53/udp', rule: 'DNS goes only to the appliance resolver' }, host: NOBODY_OK },
  { id: 'N13', name: 'DNS over TCP to another resolver', group: 'network', profile: 'production', steps: ['tcp:{host4},53'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'connect', target: '{host4}:53/tcp', rule: 'DNS goes only to the appliance resolver' }, host: NOBODY_OK },
  { id: 'N14', name: 'UDP to the resolver on another port', group: 'network', profile: 'production', steps: ['udp:{ns4},5353'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'send', target: '{ns4}:5353/udp' }, host: NOBODY_OK },
  { id: 'N15', name: 'loopback from production (not granted)', group: 'network', profile: 'production', steps: ['tcp:127.0.0.1,{lport}'], errno: 'EACCES', audit: { layer: 'landlock', operation: 'connect', target: '127.0.0.1:{lport}/tcp' }, host: NOBODY_OK },
  { id: 'N16', name: 'any TCP from the sandbox (no network: no socket at all)', group: 'network', profile: 'sandbox', steps: ['tcp:127.0.0.1,{lport}'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'socket', target: 'socket', rule: 'network: socket kind not allowed' }, host: NOBODY_OK },
  { id: 'N17', name: 'connect to a host UNIX socket any uid may write (no Landlock right covers it)', group: 'network', profile: 'development', steps: ['unix-connect:{hostsock}'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'connect', target: 'unix:{hostsock}', rule: 'no policy reaches a pathname UNIX socket' }, host: NOBODY_OK },
  { id: 'N18', name: 'connect to a host UNIX socket from the sandbox', group: 'network', profile: 'sandbox', steps: ['unix-connect:{hostsock}'], errno: 'EPERM', audit: { layer: 'ebpf', operation: 'connect', target: 'unix:{hostsock}' }, host: NOBODY_OK },

  // ------------------------------------------------------------ socket kinds (seccomp, by socket() arguments)
  { id: 'S01', name: 'raw IPv4 socket', group: 'sockets', profile: 'production', steps: ['socket:2,3,1'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'socket', target: 'socket' }, host: ROOT_OK },
  { id: 'S02', name: 'raw IPv6 socket', group: 'sockets', profile: 'production', steps: ['socket:10,3,58'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'socket', target: 'socket' }, host: ROOT_OK },
  { id: 'S03', name: 'packet socket', group: 'sockets', profile: 'production', steps: ['packet-socket'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'socket', target: 'socket' }, host: ROOT_OK },
  { id: 'S04', name: 'netlink audit socket', group: 'sockets', profile: 'production', steps: ['socket:16,3,9'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'socket', target: 'socket' }, host: ROOT_OK },
  { id: 'S05', name: 'netlink sock_diag socket (lists the host\'s sockets)', group: 'sockets', profile: 'development', steps: ['socket:16,3,4'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'socket', target: 'socket' }, host: ROOT_OK },
  { id: 'S06', name: 'netlink route socket in the sandbox', group: 'sockets', profile: 'sandbox', steps: ['socket:16,3,0'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'socket', target: 'socket' }, host: NOBODY_OK },

  // ------------------------------------------------------------ processes
  { id: 'P01', name: 'fork in the sandbox', group: 'processes', profile: 'sandbox', steps: ['fork'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'spawn', target: 'clone', rule: 'execution.spawn: false' }, host: NOBODY_OK },
  { id: 'P02', name: 'exec in the sandbox', group: 'processes', profile: 'sandbox', steps: ['exec-self:/bin/true'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'exec', target: 'execve', rule: 'execution.exec: false' }, alone: true, host: { as: 'nobody', expect: ['ok'], steps: ['exec:/bin/true'] } },
  { id: 'P03', name: 'ptrace a process outside', group: 'processes', profile: 'sandbox', steps: ['ptrace:{outsider}'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'ptrace' }, host: ROOT_OK },
  { id: 'P04', name: 'signal a process outside (same uid)', group: 'processes', profile: 'sandbox', steps: ['kill:{outsider}'], errno: 'EPERM', audit: { layer: 'landlock', operation: 'signal', target: 'pid {outsider} (sleep)', rule: 'not granted: scope.signal' }, host: NOBODY_OK, pidns: { errno: 'ESRCH' } },
  { id: 'P05', name: 'process_vm_readv of a process outside', group: 'processes', profile: 'sandbox', steps: ['vm-readv:{outsider}'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'process_vm_readv' }, host: { as: 'root', expect: ['ok', 'EFAULT'] } },
  { id: 'P06', name: 'pidfd_getfd (steal a descriptor)', group: 'processes', profile: 'sandbox', steps: ['pidfd-getfd'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'pidfd_getfd' }, host: NOBODY_OK },
  { id: 'P07', name: 'clone into a new user namespace where spawning is allowed', group: 'processes', profile: 'development', steps: ['clone-newuser'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'spawn', target: 'clone' }, host: NOBODY_OK },
  { id: 'P08', name: 'memfd exec where exec is allowed', group: 'processes', profile: 'development', steps: ['memfd-exec:/bin/true'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'memfd_create' }, alone: true, host: { as: 'nobody', expect: ['ok'], steps: ['exec:/bin/true'] } },

  // ------------------------------------------------------------ kernel interfaces (seccomp)
  { id: 'K01', name: 'bpf()', group: 'kernel', profile: 'sandbox', steps: ['bpf'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'bpf' }, host: ROOT_OK },
  { id: 'K02', name: 'mount', group: 'kernel', profile: 'sandbox', steps: ['mount:{ws}'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'mount' }, host: ROOT_OK },
  { id: 'K03', name: 'the new mount API (fsopen)', group: 'kernel', profile: 'sandbox', steps: ['fsopen'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'fsopen' }, host: ROOT_OK },
  { id: 'K04', name: 'unshare a user namespace', group: 'kernel', profile: 'sandbox', steps: ['unshare-user'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'unshare' }, host: NOBODY_OK },
  { id: 'K05', name: 'unshare a mount namespace', group: 'kernel', profile: 'development', steps: ['unshare-mnt'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'unshare' }, host: ROOT_OK },
  { id: 'K06', name: 'setns', group: 'kernel', profile: 'sandbox', steps: ['setns:/proc/self/ns/uts'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'setns' }, host: ROOT_OK },
  { id: 'K07', name: 'chroot', group: 'kernel', profile: 'sandbox', steps: ['chroot:{ws}'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'chroot' }, host: ROOT_OK },
  { id: 'K08', name: 'io_uring', group: 'kernel', profile: 'sandbox', steps: ['io-uring'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'io_uring_setup' }, host: NOBODY_OK },
  { id: 'K09', name: 'memfd exec in the sandbox', group: 'kernel', profile: 'sandbox', steps: ['memfd-exec:/bin/true'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'memfd_create' }, alone: true, host: { as: 'nobody', expect: ['ok'], steps: ['exec:/bin/true'] } },
  { id: 'K10', name: 'perf_event_open', group: 'kernel', profile: 'sandbox', steps: ['perf'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'perf_event_open' }, host: ROOT_OK },
  { id: 'K11', name: 'keyctl', group: 'kernel', profile: 'sandbox', steps: ['keyctl'], errno: 'EPERM', audit: { layer: 'seccomp', operation: 'syscall', target: 'keyctl' }, host: NOBODY_OK },
];

/**
 * What the same policies must let through (positive controls): every step
 * `ok`, no denial audited. A sandbox that denies everything fails these.
 */
export interface AllowedRun {
  name: string;
  group: Group;
  profile: Profile;
  steps: string[];
}

export const ALLOWED: AllowedRun[] = [
  {
    name: 'the sandbox works in its workspace: read, write, rename, unlink, chmod, truncate, links, fifo, folders; reads the runtime base; makes threads',
    group: 'filesystem',
    profile: 'sandbox',
    steps: [
      'read:{ws}/in.txt', 'write:{ws}/in.txt', 'create:{ws}/new', 'rename:{ws}/new,{ws}/renamed', 'chmod:{ws}/renamed,600', 'setxattr:{ws}/renamed', 'utimes:{ws}/renamed',
      'truncate:{ws}/renamed', 'symlink:{ws}/renamed,{ws}/sym', 'read:{ws}/sym', 'link:{ws}/renamed,{ws}/hard', 'read:{ws}/hard', 'unlink:{ws}/hard',
      'mkdir:{ws}/dir', 'rename:{ws}/renamed,{ws}/dir/moved', 'rmdir:{ws}/empty', 'mkfifo:{ws}/fifo', 'list:{ws}', 'read:/etc/passwd', 'read:/proc/self/status',
      'create:/tmp/private', 'read:/tmp/private', 'thread',
    ],
  },
  {
    name: 'development spawns, executes system programs, signals its own child, reaches loopback (IPv4, IPv6, v4-mapped)',
    group: 'processes',
    profile: 'development',
    steps: ['fork', 'exec:/bin/true', 'kill-child', 'thread', 'tcp:127.0.0.1,{lport}', 'tcp:::1,{lport}', 'tcp:::ffff:127.0.0.1,{lport}', 'socket:16,3,0', 'socket:1,1,0'],
  },
  {
    name: 'production reaches its allowed addresses (IPv4, IPv6, v4-mapped) and the resolver (UDP and TCP), reads its extra paths',
    group: 'network',
    profile: 'production',
    steps: ['tcp:{ns4},8080', 'tcp:{ns6},8080', 'tcp:::ffff:{ns4},8080', 'udp:{ns4},53', 'tcp:{ns4},53', 'read:/etc/resolv.conf', 'create:{ws}/out.txt', 'exec:/bin/true'],
  },
];

/** Budgets: the kernel holds the agent, the run reports it, the audit records it. */
export const BUDGETS = [
  { id: 'B01', name: 'a fork bomb is held at max_processes', kind: 'forkbomb', profile: 'development', maxProcesses: 16 },
  { id: 'B02', name: 'a memory hog is killed at max_memory_mb', kind: 'memory', profile: 'sandbox', maxMemoryMb: 48 },
  { id: 'B03', name: 'the timeout kills the whole tree, daemons in new sessions included', kind: 'timeout', profile: 'development', timeoutMinutes: 0.02 },
] as const;
