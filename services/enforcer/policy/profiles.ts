/**
 * The built-in profiles, and the base every policy gets. The texts are the
 * YAML files in ./profiles/ (embedded so the compiled enforcer needs no data
 * files; test/unit/policy-profiles.test.ts fails if the two differ).
 * What a profile guarantees beyond its values — which grants a policy
 * extending it may add — is PROFILE_CEILINGS.
 */
import type { AgentPolicyDoc } from './schema.js';
import type { ProfileName } from './types.js';

export const PROFILE_NAMES: readonly ProfileName[] = ['sandbox', 'development', 'production'];

export interface ProfileCeiling {
  /** Which egress a policy extending the profile may add to allow_egress. */
  egress: 'none' | 'loopback' | 'any';
  /** May it add filesystem.write paths? */
  addWrites: boolean;
}

export const PROFILE_CEILINGS: Record<ProfileName, ProfileCeiling> = {
  sandbox: { egress: 'none', addWrites: false },
  development: { egress: 'loopback', addWrites: true },
  production: { egress: 'any', addWrites: true },
};

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

/** YAML source of the base and of each profile, byte for byte the files in ./profiles/. */
export const PROFILE_SOURCES: Record<ProfileName | 'base', string> = {
  base: `# The runtime every policy gets, whatever it extends (sandbox, development,
# production, or nothing): what a dynamically linked program needs to start
# at all. Read-only except /dev/null; programs may run from the system paths.
# Under on_violation: kill a denied read at start-up ends the agent, so the
# files libc, python and coreutils open while starting are here too: the
# locale aliases (any UTF-8 LANG), the OpenSSL configuration (python's ssl,
# node), the public CA certificates (npm reads them to start), the resolver
# configuration (libc reads it to look up any name, localhost included; Node
# reads resolv.conf when its dns module loads, network or not). /proc is the agent's own: the launcher mounts a fresh procfs in the
# agent's PID namespace showing only the processes of its tree (each reads
# its /proc/self) and nothing system-wide (no meminfo, stat, sys: ENOENT).
agent_policy:
  filesystem:
    read:
      - /usr
      - /bin
      - /sbin
      - /lib
      - /lib64
      - /etc/ld.so.cache
      - /etc/ld.so.conf
      - /etc/ld.so.conf.d
      - /etc/localtime
      - /etc/locale.alias
      - /etc/nsswitch.conf
      - /etc/passwd
      - /etc/group
      - /etc/hosts
      - /etc/host.conf
      - /etc/gai.conf
      - /etc/resolv.conf
      - /etc/ssl/openssl.cnf
      - /etc/ssl/certs
      - /dev/null
      - /dev/zero
      - /dev/full
      - /dev/random
      - /dev/urandom
      - /proc
      - /sys/devices/system/cpu
    write:
      - /dev/null
    exec:
      - /usr
      - /bin
      - /sbin
      - /lib
      - /lib64
`,
  sandbox: `# sandbox: no network, no new processes, nothing written outside the
# workspace and the temporary directory. For untrusted code and first runs.
# A policy extending it may read more, narrow it and set its budgets; it may
# not add egress or write paths, nor turn spawn/exec/loopback/dns on.
agent_policy:
  on_violation: kill
  network:
    allow_egress: []
    deny_egress: ["*"]
    loopback: false
    dns: false
  filesystem:
    read: []
    write: ["\${workspace}", "\${tmp}"]
    exec: []
  execution:
    spawn: false
    exec: false
    max_processes: 32
    max_memory_mb: 512
    timeout_minutes: 30
  audit:
    allows: false
`,
  development: `# development: loopback only (the appliance's services: npm and model
# registries, policy git), processes may spawn and exec, programs built in
# the workspace may run. A policy extending it may list loopback egress
# only (set loopback: false to allow just some ports), and add paths.
agent_policy:
  on_violation: kill
  network:
    allow_egress: []
    deny_egress: ["*"]
    loopback: true
    dns: false
  filesystem:
    read: []
    write: ["\${workspace}", "\${tmp}"]
    exec: ["\${workspace}"]
  execution:
    spawn: true
    exec: true
    max_processes: 256
    max_memory_mb: 2048
    timeout_minutes: 120
  audit:
    allows: false
`,
  production: `# production: egress only to what the policy lists (by name, address or
# CIDR, with ports), DNS only to the appliance's resolver, every operation
# audited (allows too). Programs run from the system paths only: nothing
# the agent writes can be executed.
agent_policy:
  on_violation: kill
  network:
    allow_egress: []
    deny_egress: ["*"]
    loopback: false
    dns: true
  filesystem:
    read: ["/etc/ssl"]
    write: ["\${workspace}", "\${tmp}"]
    exec: []
  execution:
    spawn: true
    exec: true
    max_processes: 128
    max_memory_mb: 4096
    timeout_minutes: 120
  audit:
    allows: true
`,
};

/**
 * PROFILE_SOURCES as parsePolicy() reads them, so that running under a
 * profile needs neither the YAML parser nor the schema check for it (their
 * first use costs ~10 ms of every `airlock run`). Positions, for errors,
 * are still read from the sources when asked for.
 * test/unit/policy-profile-docs.test.ts fails if the two differ.
 */
export const PROFILE_DOCS: Readonly<Record<ProfileName | 'base', AgentPolicyDoc>> = {
  base: {
    filesystem: {
      read: [
        '/usr', '/bin', '/sbin', '/lib', '/lib64', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/localtime', '/etc/locale.alias',
        '/etc/nsswitch.conf', '/etc/passwd', '/etc/group', '/etc/hosts', '/etc/host.conf', '/etc/gai.conf', '/etc/resolv.conf', '/etc/ssl/openssl.cnf',
        '/etc/ssl/certs', '/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/proc', '/sys/devices/system/cpu',
      ],
      write: ['/dev/null'],
      exec: ['/usr', '/bin', '/sbin', '/lib', '/lib64'],
    },
  },
  sandbox: {
    on_violation: 'kill',
    network: { allow_egress: [], deny_egress: ['*'], loopback: false, dns: false },
    filesystem: { read: [], write: ['${workspace}', '${tmp}'], exec: [] },
    execution: { spawn: false, exec: false, max_processes: 32, max_memory_mb: 512, timeout_minutes: 30 },
    audit: { allows: false },
  },
  development: {
    on_violation: 'kill',
    network: { allow_egress: [], deny_egress: ['*'], loopback: true, dns: false },
    filesystem: { read: [], write: ['${workspace}', '${tmp}'], exec: ['${workspace}'] },
    execution: { spawn: true, exec: true, max_processes: 256, max_memory_mb: 2048, timeout_minutes: 120 },
    audit: { allows: false },
  },
  production: {
    on_violation: 'kill',
    network: { allow_egress: [], deny_egress: ['*'], loopback: false, dns: true },
    filesystem: { read: ['/etc/ssl'], write: ['${workspace}', '${tmp}'], exec: [] },
    execution: { spawn: true, exec: true, max_processes: 128, max_memory_mb: 4096, timeout_minutes: 120 },
    audit: { allows: true },
  },
};
