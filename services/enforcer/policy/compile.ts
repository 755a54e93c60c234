/**
 * The policy compiler. preparePolicy() is pure and synchronous: YAML → checked,
 * merged policy with host names still unresolved (enough to validate a push).
 * resolvePolicy() resolves the host names and yields the CompiledPolicy every
 * layer reads. compilePolicy() does both.
 *
 * Merge of a policy over the profile it extends (and the base every policy gets):
 * lists union (base, then profile, then policy; duplicates dropped); scalars
 * take the policy's value, else the profile's, else the default. A policy may
 * narrow its profile but never widen it: it cannot turn on spawn, exec,
 * loopback or dns where the profile has them off, cannot turn off audit.allows
 * where the profile has it on, and may only add the grants the profile's
 * ceiling permits (PROFILE_CEILINGS). Budgets (max_*, timeout) are the policy's
 * to set, lower or higher.
 */
import { createHash } from 'node:crypto';
import { PolicyError, PolicyErrorCodes } from '../errors.js';
import { formatIp, parseIp, parsePrefix, prefixCovers } from './addresses.js';
import { DNS_PORT, expandEgress, LOOPBACK_PREFIXES, parseEgressEntry, ruleKey, type EgressSpec } from './egress.js';
import { formatKeyPath, issuesError, ValueError, type KeyPath, type PolicyIssue, type SourcePosition } from './issues.js';
import { parsePolicy, type ParsedPolicy } from './parse.js';
import { DEFAULT_PROTECTED_PATHS, normalisePath, protectedCollision, type Placeholders } from './paths.js';
import { PROFILE_CEILINGS, PROFILE_DOCS, PROFILE_SOURCES, type ProfileCeiling } from './profiles.js';
import { createDnsResolver, type DnsServer, type HostResolver, type ResolvedHost } from './resolve.js';
import type { CompiledExecution, CompiledFilesystem, CompiledPolicy, EgressRule, ProfileName, ViolationAction } from './types.js';

/** What a policy that extends nothing gets for the keys it leaves out. */
export const STANDALONE_DEFAULTS = {
  onViolation: 'kill',
  spawn: true,
  exec: true,
  loopback: false,
  auditAllows: false,
  maxProcesses: 64,
  maxMemoryMb: 1024,
  timeoutMinutes: 60,
} as const;

export interface PrepareOptions {
  /** How errors and CompiledPolicy.source name the source (default "policy.yaml"). */
  file?: string;
  /** The policy's name when it has no `name:` key (e.g. its file stem). */
  name?: string;
  /** Value of `${workspace}`; a policy using it fails to compile without one. */
  workspace?: string;
  /** Value of `${tmp}`, default /tmp (the launcher may give each agent its own). */
  tmp?: string;
  /** Paths no policy may grant, nor grant a parent of: the appliance's prefix, audit log, policy repo. Added to DEFAULT_PROTECTED_PATHS. */
  protectedPaths?: readonly string[];
}

export interface ResolveOptions {
  /** The appliance's DNS server: host names resolve through it only, and it is the one server an agent with `dns: true` may query. */
  resolver?: DnsServer;
  /** Resolves a host name; default: createDnsResolver(resolver). */
  resolve?: HostResolver;
}

export type CompileOptions = PrepareOptions & ResolveOptions;

/** An egress entry with where it was written, for errors found when it resolves. */
export interface EgressEntry extends EgressSpec {
  at: SourcePosition & { path: string };
}

/** A checked, merged policy whose host names are not resolved yet. */
export interface PreparedPolicy extends Omit<CompiledPolicy, 'network'> {
  network: {
    allow: EgressEntry[];
    deny: EgressEntry[];
    loopback: boolean;
    dns: boolean;
    /** Which addresses allow entries may resolve to (the extended profile's ceiling). */
    ceiling: ProfileCeiling['egress'];
  };
}

export interface ResolvedPolicy {
  policy: CompiledPolicy;
  /** The shortest TTL among the resolved host names (undefined: none, or no TTL given). */
  ttlSeconds?: number;
}

export function preparePolicy(text: string, options: PrepareOptions = {}): PreparedPolicy {
  const file = options.file ?? 'policy.yaml';
  const parsed = parsePolicy(text, file);
  const profile = parsed.doc.extends;
  return merge(text, file, profile ? builtin(profile) : undefined, parsed, profile, options);
}

/** A built-in profile compiled on its own (what `--policy sandbox` runs). */
export function prepareProfile(profile: ProfileName, options: Omit<PrepareOptions, 'file'> = {}): PreparedPolicy {
  return merge(PROFILE_SOURCES[profile], `builtin:${profile}`, builtin(profile), undefined, profile, { ...options, name: profile });
}

export async function compilePolicy(text: string, options: CompileOptions = {}): Promise<CompiledPolicy> {
  return (await resolvePolicy(preparePolicy(text, options), options)).policy;
}

/** A built-in layer: its precompiled document; its source is parsed only to locate an error in it. */
function builtin(name: ProfileName | 'base'): ParsedPolicy {
  let parsed: ParsedPolicy | undefined;
  return { doc: PROFILE_DOCS[name], locate: (path, key) => (parsed ??= parsePolicy(PROFILE_SOURCES[name], `builtin:${name}`)).locate(path, key) };
}

function merge(
  text: string,
  file: string,
  profile: ParsedPolicy | undefined,
  policy: ParsedPolicy | undefined,
  profileName: ProfileName | undefined,
  options: PrepareOptions,
): PreparedPolicy {
  const issues: PolicyIssue[] = [];
  const report = (layer: ParsedPolicy, path: KeyPath, message: string) =>
    issues.push({ ...layer.locate(path), path: formatKeyPath(path), message });
  const ceiling: ProfileCeiling = profileName ? PROFILE_CEILINGS[profileName] : { egress: 'any', addWrites: true };
  const layers = [builtin('base'), profile, policy].filter((l): l is ParsedPolicy => l !== undefined);
  const pol = policy?.doc;
  const pro = profile?.doc;

  // Grants the profile has off stay off; audit it has on stays on.
  if (policy && profile) {
    const grants: Array<[KeyPath, boolean | undefined, boolean | undefined]> = [
      [['agent_policy', 'execution', 'spawn'], pro?.execution?.spawn, pol?.execution?.spawn],
      [['agent_policy', 'execution', 'exec'], pro?.execution?.exec, pol?.execution?.exec],
      [['agent_policy', 'network', 'loopback'], pro?.network?.loopback, pol?.network?.loopback],
      [['agent_policy', 'network', 'dns'], pro?.network?.dns, pol?.network?.dns],
    ];
    for (const [path, base, own] of grants) {
      if (base === false && own === true) report(policy, path, `cannot be true: the ${profileName} profile turns it off (a policy may narrow its profile, never widen it)`);
    }
    if (pro?.audit?.allows === true && pol?.audit?.allows === false) {
      report(policy, ['agent_policy', 'audit', 'allows'], `cannot be false: the ${profileName} profile audits every operation`);
    }
  }

  const placeholders = placeholderValues(options);
  const protectedPaths = [...DEFAULT_PROTECTED_PATHS, ...(options.protectedPaths ?? []).map((p) => normalisePath(p, placeholders))];
  const filesystem: CompiledFilesystem = { read: [], write: [], exec: [] };
  for (const list of ['read', 'write', 'exec'] as const) {
    for (const layer of layers) {
      layer.doc.filesystem?.[list]?.forEach((raw, i) => {
        const path = ['agent_policy', 'filesystem', list, i];
        if (list === 'write' && layer === policy && profile && !ceiling.addWrites) {
          report(layer, path, `the ${profileName} profile writes only to the workspace and the temporary directory; extend development or production to add write paths`);
          return;
        }
        try {
          const p = normalisePath(raw, placeholders);
          const hit = protectedCollision(p, protectedPaths);
          if (hit) throw new ValueError(`"${raw}" would give access to ${hit}, which no agent may reach (Landlock grants whole hierarchies: list narrower paths)`);
          if (!filesystem[list].includes(p)) filesystem[list].push(p);
        } catch (e) {
          if (!(e instanceof ValueError)) throw e;
          report(layer, path, e.message);
        }
      });
    }
  }

  const egress = { allow: [] as EgressEntry[], deny: [] as EgressEntry[] };
  for (const [list, key] of [['allow', 'allow_egress'], ['deny', 'deny_egress']] as const) {
    for (const layer of layers) {
      layer.doc.network?.[key]?.forEach((raw, i) => {
        const path = ['agent_policy', 'network', key, i];
        try {
          const spec = parseEgressEntry(raw);
          if (list === 'allow') checkNotDnsOnly(spec);
          if (list === 'allow' && layer === policy) checkCeiling(spec, ceiling, profileName);
          egress[list].push(withPosition(spec, layer, path));
        } catch (e) {
          if (!(e instanceof ValueError)) throw e;
          report(layer, path, e.message);
        }
      });
    }
  }

  if (issues.length > 0) throw issuesError(issues);

  const pick = <T>(own: T | undefined, inherited: T | undefined, fallback: T): T => own ?? inherited ?? fallback;
  const execution: CompiledExecution = {
    spawn: pick(pol?.execution?.spawn, pro?.execution?.spawn, STANDALONE_DEFAULTS.spawn),
    exec: pick(pol?.execution?.exec, pro?.execution?.exec, STANDALONE_DEFAULTS.exec),
    maxProcesses: pick(pol?.execution?.max_processes, pro?.execution?.max_processes, STANDALONE_DEFAULTS.maxProcesses),
    maxMemoryBytes: pick(pol?.execution?.max_memory_mb, pro?.execution?.max_memory_mb, STANDALONE_DEFAULTS.maxMemoryMb) * 1024 * 1024,
    timeoutSeconds: Math.round(pick(pol?.execution?.timeout_minutes, pro?.execution?.timeout_minutes, STANDALONE_DEFAULTS.timeoutMinutes) * 60),
  };
  const namesHosts = egress.allow.some((e) => e.target.kind === 'host');
  return {
    name: pol?.name ?? options.name ?? 'policy',
    source: file,
    sourceSha256: createHash('sha256').update(text).digest('hex'),
    ...(profileName ? { extends: profileName } : {}),
    onViolation: pick<ViolationAction>(pol?.on_violation, pro?.on_violation, STANDALONE_DEFAULTS.onViolation),
    filesystem,
    network: {
      ...egress,
      loopback: pick(pol?.network?.loopback, pro?.network?.loopback, STANDALONE_DEFAULTS.loopback),
      // Standalone: DNS exactly when an allow entry names a host.
      dns: pick(pol?.network?.dns, pro?.network?.dns, namesHosts),
      ceiling: ceiling.egress,
    },
    execution,
    audit: { allows: pick(pol?.audit?.allows, pro?.audit?.allows, STANDALONE_DEFAULTS.auditAllows) },
  };
}

/** The entry with where it was written, found when first asked for (a built-in layer's source is parsed only then). */
function withPosition(spec: EgressSpec, layer: ParsedPolicy, path: KeyPath): EgressEntry {
  let at: EgressEntry['at'] | undefined;
  return Object.defineProperty({ ...spec }, 'at', { enumerable: true, get: () => (at ??= { ...layer.locate(path), path: formatKeyPath(path) }) }) as EgressEntry;
}

function placeholderValues(options: PrepareOptions): Placeholders {
  const check = (what: string, value: string) => {
    try {
      const p = normalisePath(value, { tmp: '/' });
      if (p === '/') throw new ValueError('is the root directory');
      return p;
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
      throw new PolicyError(PolicyErrorCodes.INVALID, `the ${what} "${value}" cannot be used: ${e.message}`, {
        hint: `Give the ${what} as an absolute path without "..".`,
      });
    }
  };
  return {
    tmp: check('temporary directory', options.tmp ?? '/tmp'),
    ...(options.workspace !== undefined ? { workspace: check('workspace', options.workspace) } : {}),
  };
}

/** An allow entry for port 53 alone could never take effect: DNS goes to the resolver only. */
function checkNotDnsOnly(spec: EgressSpec): void {
  if (spec.ports.length === 1 && spec.ports[0]![0] === DNS_PORT && spec.ports[0]![1] === DNS_PORT) {
    throw new ValueError(`"${spec.text}": port 53 (DNS) goes only to the appliance's resolver; set network.dns instead`);
  }
}

function checkCeiling(spec: EgressSpec, ceiling: ProfileCeiling, profile: ProfileName | undefined): void {
  if (ceiling.egress === 'none') throw new ValueError(`the ${profile} profile allows no network egress; extend development (loopback) or production (listed egress)`);
  if (ceiling.egress === 'loopback') {
    if (spec.target.kind === 'any') throw new ValueError(`the ${profile} profile allows loopback egress only; extend production to reach other addresses`);
    if (spec.target.kind === 'prefix') assertLoopback(spec.target.prefix, spec.text, profile);
  }
}

function assertLoopback(p: { family: 4 | 6; bytes: Uint8Array; prefix: number }, text: string, profile: ProfileName | undefined): void {
  if (!LOOPBACK_PREFIXES.some((l) => prefixCovers(l, p))) {
    throw new ValueError(`"${text}" reaches ${formatIp(p)}/${p.prefix}: the ${profile} profile allows loopback egress only; extend production to reach other addresses`);
  }
}

/** Names that never go to DNS (RFC 6761: localhost is always loopback). */
const FIXED_HOSTS: Record<string, string[]> = { localhost: ['127.0.0.1', '::1'] };

export async function resolvePolicy(prepared: PreparedPolicy, options: ResolveOptions = {}): Promise<ResolvedPolicy> {
  const resolver = checkedResolver(options.resolver);
  const resolve = options.resolve ?? (resolver ? createDnsResolver(resolver) : undefined);
  const hosts = [...prepared.network.allow, ...prepared.network.deny].flatMap((e) => (e.target.kind === 'host' ? [e.target.name] : []));
  const answers = await resolveHosts(new Set(hosts), resolve);

  const unresolved: PolicyIssue[] = [];
  const outside: PolicyIssue[] = [];
  const rules = (list: EgressEntry[], isAllow: boolean): EgressRule[] => {
    const out = new Map<string, EgressRule>();
    for (const e of list) {
      const answer = e.target.kind === 'host' ? answers.get(e.target.name)! : { addresses: [] };
      if (answer instanceof Error) {
        unresolved.push({ ...e.at, message: `"${e.text}" did not resolve: ${answer.message}` });
        continue;
      }
      for (const r of expandEgress(e, answer.addresses)) {
        // A name can only be checked against the profile's ceiling once it has addresses.
        if (isAllow && e.target.kind === 'host' && prepared.network.ceiling === 'loopback') {
          try {
            assertLoopback({ ...parseIp(r.address)!, prefix: r.prefix }, e.text, prepared.extends);
          } catch (err) {
            outside.push({ ...e.at, message: (err as Error).message });
            continue;
          }
        }
        out.set(ruleKey(r), r);
      }
    }
    return [...out.values()];
  };
  const allow = rules(prepared.network.allow, true);
  const deny = rules(prepared.network.deny, false);
  if (outside.length > 0) throw issuesError([...outside, ...unresolved]);
  if (unresolved.length > 0) throw issuesError(unresolved, PolicyErrorCodes.UNRESOLVED);

  const ttls = [...answers.values()].flatMap((a) => (a instanceof Error || a.ttlSeconds === undefined ? [] : [a.ttlSeconds]));
  const { network, ...rest } = prepared;
  const policy: CompiledPolicy = {
    ...rest,
    network: { allow, deny, loopback: network.loopback, ...(network.dns && resolver ? { resolver } : {}) },
  };
  return { policy, ...(ttls.length > 0 ? { ttlSeconds: Math.min(...ttls) } : {}) };
}

function checkedResolver(server: DnsServer | undefined): { address: string; port: number } | undefined {
  if (!server) return undefined;
  const ip = parseIp(server.address);
  const port = server.port ?? 53;
  if (!ip || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PolicyError(PolicyErrorCodes.INVALID, `the DNS resolver "${server.address}" port ${port} cannot be used`, {
      hint: 'Configure the resolver as an IPv4 or IPv6 address and a port from 1 to 65535.',
    });
  }
  return { address: formatIp(ip), port };
}

/** Each name's addresses (canonical, v4-mapped folded) and TTL, or why it has none. */
async function resolveHosts(hosts: Set<string>, resolve: HostResolver | undefined): Promise<Map<string, ResolvedHost | Error>> {
  const answers = new Map<string, ResolvedHost | Error>();
  const one = async (host: string): Promise<ResolvedHost | Error> => {
    const fixed = FIXED_HOSTS[host];
    if (fixed) return { addresses: fixed };
    if (!resolve) return new Error('no DNS resolver is configured');
    try {
      const r = await resolve(host);
      const addresses = r.addresses.map((a) => formatIp(parsePrefix(a)));
      return addresses.length === 0 ? new Error('has no A or AAAA record') : { ...r, addresses };
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  };
  await Promise.all([...hosts].map(async (h) => answers.set(h, await one(h))));
  return answers;
}
