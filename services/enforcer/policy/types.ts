/**
 * The compiled form of an agent policy: what every enforcement layer reads.
 * The policy compiler (policy/compile.ts) produces it from the YAML; the
 * Landlock/seccomp launcher, the BPF loader and the cgroup manager consume it.
 * Everything here is resolved: absolute paths, numeric addresses, no host names.
 */

export type ProfileName = 'sandbox' | 'development' | 'production';
export type ViolationAction = 'kill' | 'deny';

/** One egress rule: an address prefix and optional port ranges. */
export interface EgressRule {
  /** IPv4 or IPv6 network address (IPv4-mapped IPv6 is normalised to IPv4; IPv6 in RFC 5952 form; bits past the prefix are zero). */
  address: string;
  /** Prefix length: 0-32 for IPv4, 0-128 for IPv6. */
  prefix: number;
  family: 4 | 6;
  /** Inclusive port ranges, sorted, merged, non-overlapping; empty means every port. */
  ports: Array<[number, number]>;
  protocol: 'tcp' | 'udp' | 'any';
  /** The rule as written in the policy (host name, CIDR, "*"), for audit. */
  source: string;
}

export interface CompiledFilesystem {
  /** Absolute, normalised paths readable (and listable) by the agent. */
  read: string[];
  /** Absolute, normalised paths writable by the agent (implies read). */
  write: string[];
  /** Absolute paths the agent may execute from (implies read). */
  exec: string[];
}

export interface CompiledNetwork {
  /**
   * Egress is decided by the most specific matching rule among allow, deny, loopback and the
   * resolver: longer prefix, then ports given, then protocol given; an exact tie denies; no match
   * denies. Port 53 goes only to `resolver` (when it listens on 53), whatever the rules say.
   * policy/egress.ts decideEgress() is the reference every layer must agree with.
   */
  allow: EgressRule[];
  deny: EgressRule[];
  /** The only DNS resolver the agent may send to (address:port), when DNS is allowed at all. */
  resolver?: { address: string; port: number };
  /** Loopback traffic (127.0.0.0/8, ::1) allowed: an implicit allow of those prefixes, all ports (a more specific deny still wins). */
  loopback: boolean;
}

export interface CompiledExecution {
  /** May the agent create processes (fork/vfork/clone without CLONE_THREAD)? exec is separate. */
  spawn: boolean;
  /** May the agent call execve/execveat after it started? */
  exec: boolean;
  maxProcesses: number;
  maxMemoryBytes: number;
  timeoutSeconds: number;
}

export interface CompiledPolicy {
  /** Policy name (file stem or `name:` key). */
  name: string;
  /** Where it came from (file path or "builtin:<profile>"). */
  source: string;
  /** SHA-256 of the source YAML bytes, for audit. */
  sourceSha256: string;
  extends?: ProfileName;
  onViolation: ViolationAction;
  filesystem: CompiledFilesystem;
  network: CompiledNetwork;
  execution: CompiledExecution;
  audit: {
    /** Audit allowed operations too (denials are always audited). */
    allows: boolean;
  };
}
