/**
 * Egress entries: the text syntax of `allow_egress` / `deny_egress` items,
 * their expansion into EgressRules once host names are resolved, and the
 * reference decision procedure every enforcement layer must agree with.
 *
 *   entry  := [("tcp" | "udp") "://"] target [":" ports]
 *   target := "*" | IPv4[/len] | "[" IPv6[/len] "]" | IPv6[/len] (no ports then) | host name
 *   ports  := port-or-range ("," port-or-range)*      e.g. 443  8000-8100  80,443
 */
import { formatIp, parseIp, parsePrefix, prefixContains, type IpPrefix } from './addresses.js';
import { ValueError } from './issues.js';
import type { CompiledNetwork, EgressRule } from './types.js';

export type EgressTarget =
  | { kind: 'any' }
  | { kind: 'prefix'; prefix: IpPrefix }
  | { kind: 'host'; name: string };

export interface EgressSpec {
  /** The entry as written. */
  text: string;
  target: EgressTarget;
  /** Sorted, merged, inclusive; empty = every port. */
  ports: Array<[number, number]>;
  protocol: EgressRule['protocol'];
}

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function parseEgressEntry(text: string): EgressSpec {
  let rest = text.trim();
  if (rest === '') throw new ValueError('is empty');
  let protocol: EgressRule['protocol'] = 'any';
  const scheme = /^([a-z]+):\/\//i.exec(rest);
  if (scheme) {
    const p = scheme[1]!.toLowerCase();
    if (p !== 'tcp' && p !== 'udp') throw new ValueError(`"${scheme[1]}://": the protocol must be tcp:// or udp://`);
    protocol = p;
    rest = rest.slice(scheme[0].length);
  }

  let targetText: string;
  let portsText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new ValueError(`"${text}": missing "]" after the IPv6 address`);
    targetText = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw new ValueError(`"${text}": expected ":ports" after "]"`);
    if (after !== '') portsText = after.slice(1);
    if (!targetText.includes(':')) throw new ValueError(`"${text}": brackets are only for IPv6 addresses`);
  } else if ((rest.match(/:/g) ?? []).length > 1) {
    // More than one colon and no brackets: a bare IPv6 address, which cannot carry ports.
    targetText = rest;
  } else {
    const colon = rest.indexOf(':');
    targetText = colon < 0 ? rest : rest.slice(0, colon);
    if (colon >= 0) portsText = rest.slice(colon + 1);
  }

  const ports = portsText === undefined ? [] : parsePorts(portsText, text);
  return { text, target: parseTarget(targetText, text), ports, protocol };
}

function parseTarget(t: string, whole: string): EgressTarget {
  if (t === '*') return { kind: 'any' };
  if (/^[0-9.]+(\/.*)?$/.test(t) || t.includes(':')) return { kind: 'prefix', prefix: parsePrefix(t) };
  if (t.includes('*')) {
    throw new ValueError(`"${whole}": wildcard host names cannot be resolved ahead of time; list each host name or a CIDR`);
  }
  if (t.includes('/')) throw new ValueError(`"${whole}": a prefix length needs an IP address, not a host name`);
  const name = t.toLowerCase().replace(/\.$/, '');
  if (name.length > 253 || !name.split('.').every((l) => HOST_LABEL.test(l))) {
    throw new ValueError(`"${whole}" is not a valid host name, IP address or CIDR (host names are ASCII letters, digits and "-"; use punycode for others)`);
  }
  return { kind: 'host', name };
}

export function parsePorts(text: string, whole: string): Array<[number, number]> {
  const ranges = text.split(',').map((part): [number, number] => {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part.trim());
    if (!m) throw new ValueError(`"${whole}": "${part}" is not a port or a port range like 8000-8100`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 65535) throw new ValueError(`"${whole}": ports must be from 1 to 65535`);
    if (lo > hi) throw new ValueError(`"${whole}": the range ${part} runs backwards`);
    return [lo, hi];
  });
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

/** The rules of one entry; `addresses` are the resolved addresses of a host-name entry. */
export function expandEgress(spec: EgressSpec, addresses: readonly string[] = []): EgressRule[] {
  const rule = (p: IpPrefix): EgressRule => ({
    address: formatIp(p),
    prefix: p.prefix,
    family: p.family,
    ports: spec.ports.map(([a, b]) => [a, b]),
    protocol: spec.protocol,
    source: spec.text,
  });
  switch (spec.target.kind) {
    case 'any':
      return [rule(parsePrefix('0.0.0.0/0')), rule(parsePrefix('::/0'))];
    case 'prefix':
      return [rule(spec.target.prefix)];
    case 'host':
      return addresses.map((a) => rule(parsePrefix(a)));
  }
}

/** A stable identity of a rule, for de-duplication and diffs. */
export function ruleKey(r: EgressRule): string {
  return `${r.protocol}|${r.address}/${r.prefix}|${r.ports.map(([a, b]) => `${a}-${b}`).join(',')}|${r.source}`;
}

export const DNS_PORT = 53;

export const LOOPBACK_PREFIXES: readonly IpPrefix[] = [parsePrefix('127.0.0.0/8'), parsePrefix('::1/128')];

export interface EgressQuery {
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
}

export interface EgressDecision {
  verdict: 'allow' | 'deny';
  /** The deciding rule's source text, or what decided without one. */
  rule: string;
}

/**
 * The reference semantics of egress (the BPF programs implement the same):
 * among the rules that match the address, port and protocol — the allow and
 * deny lists, plus loopback (127.0.0.0/8, ::1) and the resolver's port 53 when
 * granted — the most specific wins: longer prefix first, then a rule with
 * ports over one without, then a rule with a protocol over "any"; on an exact
 * tie deny wins. Nothing matching means deny. Before any rule, DNS is pinned:
 * port 53 goes to the configured resolver (when it listens on 53) or nowhere,
 * whatever the rules say, so names cannot leak to another server.
 */
export function decideEgress(network: CompiledNetwork, q: EgressQuery): EgressDecision {
  const addr = parseIp(q.address);
  if (!addr) throw new ValueError(`"${q.address}" is not an IP address`);
  if (q.port === DNS_PORT) {
    const r = network.resolver;
    const toResolver = r !== undefined && r.port === DNS_PORT && formatIp(addr) === formatIp(parseIp(r.address)!);
    if (!toResolver) return { verdict: 'deny', rule: 'dns' };
  }
  type Candidate = { verdict: 'allow' | 'deny'; prefix: IpPrefix; ports: boolean; protocol: boolean; rule: string };
  const candidates: Candidate[] = [];
  const consider = (verdict: Candidate['verdict'], r: EgressRule) => {
    const prefix = { ...parseIp(r.address)!, prefix: r.prefix };
    const portOk = r.ports.length === 0 || r.ports.some(([a, b]) => q.port >= a && q.port <= b);
    const protoOk = r.protocol === 'any' || r.protocol === q.protocol;
    if (portOk && protoOk && prefixContains(prefix, addr)) {
      candidates.push({ verdict, prefix, ports: r.ports.length > 0, protocol: r.protocol !== 'any', rule: r.source });
    }
  };
  network.allow.forEach((r) => consider('allow', r));
  network.deny.forEach((r) => consider('deny', r));
  if (network.loopback) {
    for (const p of LOOPBACK_PREFIXES) {
      if (prefixContains(p, addr)) candidates.push({ verdict: 'allow', prefix: p, ports: false, protocol: false, rule: 'loopback' });
    }
  }
  const resolver = network.resolver && parseIp(network.resolver.address);
  if (resolver) {
    const port = network.resolver!.port;
    const bits = resolver.family === 4 ? 32 : 128;
    consider('allow', { address: formatIp(resolver), prefix: bits, family: resolver.family, ports: [[port, port]], protocol: 'any', source: 'resolver' });
  }
  if (candidates.length === 0) return { verdict: 'deny', rule: 'default' };
  const rank = (c: Candidate) => [c.prefix.prefix, c.ports ? 1 : 0, c.protocol ? 1 : 0, c.verdict === 'deny' ? 1 : 0];
  candidates.sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return rb[i]! - ra[i]!;
    return 0;
  });
  const best = candidates[0]!;
  return { verdict: best.verdict, rule: best.rule };
}
