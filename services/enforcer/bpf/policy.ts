/**
 * CompiledPolicy → the policy object of the loader's add-agent and
 * update-policy requests. Pure.
 *
 * The BPF programs do one longest-prefix lookup, then take the first entry of
 * the list stored at that prefix whose protocol and port match. So the list
 * stored at each distinct prefix P holds every rule whose prefix contains P
 * (those are exactly the rules that can match an address whose longest
 * stored prefix is P), in the order of the reference semantics
 * (decideEgress in ../policy/egress.ts): longer prefix first, then a rule
 * with ports before one without, then a rule with a protocol before "any",
 * deny before allow on a tie. No matching entry denies.
 *
 * On top of the rules, the programs send TCP/UDP port 53 only to the
 * configured resolver (no rule can open DNS to another server), and
 * refuse TCP or UDP sockets when no allowing rule could use them.
 */
import { BpfError, BpfErrorCodes } from '../errors.js';
import type { CompiledPolicy, EgressRule } from '../policy/types.js';
import { formatIp, ipBytes, maskBytes, prefixContains } from './ip.js';

/** Entries one prefix may hold: AL_MAX_RULES in bpf/include/airlock_maps.h. */
export const MAX_RULES_PER_PREFIX = 32;
/** Prefixes per family across all agents: AL_LPM_MAX. */
export const MAX_PREFIXES = 65536;

const VERDICT = { allow: 0, deny: 1 } as const;
const PROTO = { any: 0, tcp: 6, udp: 17 } as const;

/** [verdict, protocol, portLo, portHi, ruleId] */
export type WireRule = [number, number, number, number, number];

export interface WirePrefix {
  address: string;
  prefix: number;
  rules: WireRule[];
}

export interface LoaderPolicy {
  kill: boolean;
  auditAllows: boolean;
  tcp: boolean;
  udp: boolean;
  resolver: { address: string; port: number } | null;
  v4: WirePrefix[];
  v6: WirePrefix[];
}

/** What a rule id in an event stands for. */
export interface RuleInfo {
  verdict: 'allow' | 'deny';
  /** The rule as written in the policy, or "loopback" / "resolver". */
  source: string;
  address: string;
  prefix: number;
}

export interface EgressTables {
  policy: LoaderPolicy;
  /** Rule ids (as in connect events) → rules. */
  rules: Map<number, RuleInfo>;
}

interface Rule {
  id: number;
  verdict: 'allow' | 'deny';
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
  ports: Array<[number, number]>;
  protocol: EgressRule['protocol'];
}

const LOOPBACK: Array<Pick<EgressRule, 'address' | 'prefix' | 'family'>> = [
  { address: '127.0.0.0', prefix: 8, family: 4 },
  { address: '::1', prefix: 128, family: 6 },
];

function toRule(id: number, verdict: Rule['verdict'], r: Pick<EgressRule, 'address' | 'prefix' | 'family' | 'ports' | 'protocol'>): Rule {
  const bytes = ipBytes(r.address);
  const width = r.family === 4 ? 4 : 16;
  if (!bytes || bytes.length !== width || !Number.isInteger(r.prefix) || r.prefix < 0 || r.prefix > width * 8) {
    throw new BpfError(BpfErrorCodes.PROTOCOL, `egress rule ${r.address}/${r.prefix} is not a valid IPv${r.family} prefix`, {
      hint: 'The policy compiler emits resolved addresses only; this is a bug in the caller.',
      details: { rule: r },
    });
  }
  return { id, verdict, family: r.family, bytes: maskBytes(bytes, r.prefix), prefix: r.prefix, ports: r.ports, protocol: r.protocol };
}

/** Sort key of the reference semantics; smaller sorts first. */
function rank(r: Rule): number[] {
  return [-r.prefix, r.ports.length > 0 ? 0 : 1, r.protocol !== 'any' ? 0 : 1, r.verdict === 'deny' ? 0 : 1];
}

function byRank(a: Rule, b: Rule): number {
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
  return a.id - b.id;
}

function table(rules: Rule[]): WirePrefix[] {
  const distinct = new Map<string, Rule>();
  for (const r of rules) distinct.set(`${formatIp(r.bytes)}/${r.prefix}`, r);
  const out: WirePrefix[] = [];
  for (const p of distinct.values()) {
    const covering = rules.filter((r) => r.prefix <= p.prefix && prefixContains(r.bytes, r.prefix, p.bytes)).sort(byRank);
    const entries: WireRule[] = covering.flatMap((r) =>
      (r.ports.length > 0 ? r.ports : [[0, 65535] as [number, number]]).map(([lo, hi]): WireRule => [VERDICT[r.verdict], PROTO[r.protocol], lo, hi, r.id]),
    );
    const address = formatIp(p.bytes);
    if (entries.length > MAX_RULES_PER_PREFIX) {
      throw new BpfError(BpfErrorCodes.POLICY_TOO_LARGE, `${address}/${p.prefix} is covered by ${entries.length} rule entries; the BPF tables hold ${MAX_RULES_PER_PREFIX}`, {
        hint: 'Merge overlapping egress rules or their port lists.',
        details: { prefix: `${address}/${p.prefix}`, entries: entries.length },
      });
    }
    out.push({ address, prefix: p.prefix, rules: entries });
  }
  if (out.length > MAX_PREFIXES) {
    throw new BpfError(BpfErrorCodes.POLICY_TOO_LARGE, `the policy has ${out.length} IPv${rules[0]!.family} prefixes; the BPF tables hold ${MAX_PREFIXES}`, {
      hint: 'Use CIDR ranges instead of many single addresses.',
    });
  }
  return out;
}

export function egressTables(policy: CompiledPolicy): EgressTables {
  const { network } = policy;
  const rules: Rule[] = [];
  const info = new Map<number, RuleInfo>();
  const add = (verdict: Rule['verdict'], r: Parameters<typeof toRule>[2], source: string) => {
    const rule = toRule(rules.length + 1, verdict, r);
    rules.push(rule);
    info.set(rule.id, { verdict, source, address: formatIp(rule.bytes), prefix: rule.prefix });
  };
  network.allow.forEach((r) => add('allow', r, r.source));
  network.deny.forEach((r) => add('deny', r, r.source));
  if (network.loopback) LOOPBACK.forEach((r) => add('allow', { ...r, ports: [], protocol: 'any' }, 'loopback'));
  if (network.resolver) {
    const bytes = ipBytes(network.resolver.address);
    const family = bytes?.length === 4 ? 4 : 6;
    const { address, port } = network.resolver;
    add('allow', { address, prefix: family === 4 ? 32 : 128, family, ports: [[port, port]], protocol: 'any' }, 'resolver');
  }
  if (rules.length > 0xffff) {
    throw new BpfError(BpfErrorCodes.POLICY_TOO_LARGE, `the policy has ${rules.length} egress rules; rule ids are 16-bit`);
  }

  const allows = rules.filter((r) => r.verdict === 'allow');
  return {
    policy: {
      kill: policy.onViolation === 'kill',
      auditAllows: policy.audit.allows,
      tcp: allows.some((r) => r.protocol !== 'udp'),
      udp: allows.some((r) => r.protocol !== 'tcp'),
      resolver: network.resolver ? { address: network.resolver.address, port: network.resolver.port } : null,
      v4: table(rules.filter((r) => r.family === 4)),
      v6: table(rules.filter((r) => r.family === 6)),
    },
    rules: info,
  };
}
