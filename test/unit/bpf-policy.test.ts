/**
 * CompiledPolicy → BPF egress tables. The tables are checked the way the BPF
 * programs read them (one longest-prefix lookup, first matching entry), and
 * that reading must agree with the reference semantics, decideEgress.
 */
import { describe, expect, it } from 'vitest';
import { egressTables, MAX_RULES_PER_PREFIX, type LoaderPolicy, type WirePrefix } from '../../services/enforcer/bpf/policy.js';
import { ipBytes, prefixContains } from '../../services/enforcer/bpf/ip.js';
import { decideEgress, type CompiledNetwork, type CompiledPolicy, type EgressRule } from '../../services/enforcer/policy/index.js';

function policy(network: Partial<CompiledNetwork>, extra: Partial<CompiledPolicy> = {}): CompiledPolicy {
  return {
    name: 't',
    source: 'test',
    sourceSha256: '0'.repeat(64),
    onViolation: 'deny',
    filesystem: { read: [], write: [], exec: [] },
    network: { allow: [], deny: [], loopback: false, ...network },
    execution: { spawn: true, exec: true, maxProcesses: 10, maxMemoryBytes: 1 << 20, timeoutSeconds: 60 },
    audit: { allows: false },
    ...extra,
  };
}

function rule(cidr: string, ports: Array<[number, number]> = [], protocol: EgressRule['protocol'] = 'any'): EgressRule {
  const [address, len] = cidr.split('/') as [string, string | undefined];
  const family = address.includes(':') ? 6 : 4;
  return { address, prefix: len === undefined ? (family === 4 ? 32 : 128) : Number(len), family, ports, protocol, source: cidr };
}

/** What the BPF programs do with the tables (egress.bpf.c decide()). */
function bpfDecide(t: LoaderPolicy, address: string, port: number, protocol: 'tcp' | 'udp'): { verdict: 'allow' | 'deny'; rule: number } {
  const addr = ipBytes(address)!;
  if (port === 53) {
    const r = t.resolver && ipBytes(t.resolver.address);
    if (!(r && t.resolver!.port === 53 && r.length === addr.length && r.every((b, i) => b === addr[i]))) return { verdict: 'deny', rule: 0 };
  }
  const table: WirePrefix[] = addr.length === 4 ? t.v4 : t.v6;
  let best: WirePrefix | undefined;
  for (const p of table) {
    if (prefixContains(ipBytes(p.address)!, p.prefix, addr) && (!best || p.prefix > best.prefix)) best = p;
  }
  const proto = protocol === 'tcp' ? 6 : 17;
  for (const [verdict, pr, lo, hi, id] of best?.rules ?? []) {
    if ((pr === 0 || pr === proto) && port >= lo && port <= hi) return { verdict: verdict === 0 ? 'allow' : 'deny', rule: id };
  }
  return { verdict: 'deny', rule: 0 };
}

describe('egressTables', () => {
  it('stores at each prefix every covering rule, most specific first, deny first on a tie', () => {
    const t = egressTables(
      policy({
        allow: [rule('10.0.0.0/8', [[443, 443]], 'tcp'), rule('10.1.0.0/16')],
        deny: [rule('10.1.2.0/24'), rule('10.1.0.0/16', [[22, 22]])],
      }),
    );
    const at = (cidr: string) => t.policy.v4.find((p) => `${p.address}/${p.prefix}` === cidr)?.rules;
    // ids: allows 1, 2; denies 3, 4 (in list order)
    expect(at('10.0.0.0/8')).toEqual([[0, 6, 443, 443, 1]]);
    expect(at('10.1.0.0/16')).toEqual([
      [1, 0, 22, 22, 4], // same length: the rule with ports first
      [0, 0, 0, 65535, 2],
      [0, 6, 443, 443, 1],
    ]);
    expect(at('10.1.2.0/24')?.[0]).toEqual([1, 0, 0, 65535, 3]);
    expect(t.rules.get(4)).toEqual({ verdict: 'deny', source: '10.1.0.0/16', address: '10.1.0.0', prefix: 16 });
  });

  it('adds loopback and the resolver as allow rules, and the socket kinds they need', () => {
    const sandbox = egressTables(policy({}));
    expect(sandbox.policy).toMatchObject({ tcp: false, udp: false, resolver: null, v4: [], v6: [] });
    const t = egressTables(policy({ loopback: true, resolver: { address: '10.0.0.53', port: 53 } }, { onViolation: 'kill', audit: { allows: true } }));
    expect(t.policy).toMatchObject({ kill: true, auditAllows: true, tcp: true, udp: true, resolver: { address: '10.0.0.53', port: 53 } });
    expect(t.policy.v4).toEqual(
      expect.arrayContaining([
        { address: '127.0.0.0', prefix: 8, rules: [[0, 0, 0, 65535, 1]] },
        { address: '10.0.0.53', prefix: 32, rules: [[0, 0, 53, 53, 3]] },
      ]),
    );
    expect(t.policy.v6).toEqual([{ address: '::1', prefix: 128, rules: [[0, 0, 0, 65535, 2]] }]);
    expect([...t.rules.values()].map((r) => r.source)).toEqual(['loopback', 'loopback', 'resolver']);
  });

  it('UDP-only allows give no TCP sockets and the other way round', () => {
    expect(egressTables(policy({ allow: [rule('10.0.0.0/8', [], 'udp')] })).policy).toMatchObject({ tcp: false, udp: true });
    expect(egressTables(policy({ allow: [rule('10.0.0.0/8', [], 'tcp')], deny: [rule('0.0.0.0/0')] })).policy).toMatchObject({ tcp: true, udp: false });
  });

  it('refuses a prefix covered by more entries than the kernel map holds (BPF_POLICY_TOO_LARGE)', () => {
    const ports: Array<[number, number]> = Array.from({ length: MAX_RULES_PER_PREFIX + 1 }, (_, i) => [1000 + 2 * i, 1000 + 2 * i]);
    expect(() => egressTables(policy({ allow: [rule('10.0.0.0/8', ports)] }))).toThrow(expect.objectContaining({ code: 'BPF_POLICY_TOO_LARGE' }));
    expect(() => egressTables(policy({ allow: [rule('10.0.0.0/8', ports.slice(0, MAX_RULES_PER_PREFIX))] }))).not.toThrow();
  });
});

describe('the tables agree with the reference semantics (decideEgress)', () => {
  // deterministic pseudo-random policies and queries
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;
  const V4 = ['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32', '10.2.0.0/16', '192.168.0.0/16', '127.0.0.0/8', '127.0.0.1/32'];
  const V6 = ['::/0', 'fd00::/8', 'fd00:1::/32', 'fd00:1::5/128', '::1/128', '2001:db8::/32'];
  const ADDRS = ['10.1.2.3', '10.1.2.4', '10.1.9.9', '10.2.3.4', '10.200.0.1', '192.168.1.1', '8.8.8.8', '127.0.0.1', '127.0.0.2', 'fd00:1::5', 'fd00:1::6', 'fd00:2::1', '2001:db8::1', '::1', '2a00::1'];
  const PORTS: Array<Array<[number, number]>> = [[], [[443, 443]], [[80, 80], [8000, 8100]], [[1, 1023]], [[8080, 8080]]];
  const randomRule = () => rule(pick(rand(3) ? V4 : V6), pick(PORTS), pick(['any', 'tcp', 'udp'] as const));

  it('on ties: deny wins at the same prefix, ports and protocol; ports beat no ports; a protocol beats any', () => {
    const cases: Array<[Partial<CompiledNetwork>, 'allow' | 'deny']> = [
      [{ allow: [rule('10.0.0.0/8')], deny: [rule('10.0.0.0/8')] }, 'deny'],
      [{ allow: [rule('10.0.0.0/8', [[80, 80]])], deny: [rule('10.0.0.0/8')] }, 'allow'],
      [{ allow: [rule('10.0.0.0/8', [], 'tcp')], deny: [rule('10.0.0.0/8')] }, 'allow'],
      [{ allow: [rule('10.0.0.0/8', [], 'tcp')], deny: [rule('10.0.0.0/8', [[80, 80]])] }, 'deny'],
      [{ allow: [rule('10.1.0.0/16')], deny: [rule('10.0.0.0/8', [[80, 80]], 'tcp')] }, 'allow'],
    ];
    for (const [network, verdict] of cases) {
      const n = { allow: [], deny: [], loopback: false, ...network };
      expect(decideEgress(n, { address: '10.1.1.1', port: 80, protocol: 'tcp' }).verdict).toBe(verdict);
      expect(bpfDecide(egressTables(policy(n)).policy, '10.1.1.1', 80, 'tcp').verdict).toBe(verdict);
    }
  });

  it('for 300 random policies × 60 queries, DNS pinning included', () => {
    let dnsDenials = 0;
    for (let i = 0; i < 300; i++) {
      const network: CompiledNetwork = {
        allow: Array.from({ length: rand(5) }, randomRule),
        deny: Array.from({ length: rand(4) }, randomRule),
        loopback: rand(2) === 0,
        ...(rand(2) === 0 ? { resolver: { address: pick(['10.1.2.3', 'fd00:1::5']), port: pick([53, 5353]) } } : {}),
      };
      const t = egressTables(policy(network));
      for (let q = 0; q < 60; q++) {
        const address = pick(ADDRS);
        const port = pick([22, 53, 80, 443, 5353, 8050, 8080, 9999]);
        const protocol = pick(['tcp', 'udp'] as const);
        const want = decideEgress(network, { address, port, protocol });
        const got = bpfDecide(t.policy, address, port, protocol);
        const context = JSON.stringify({ network, address, port, protocol });
        expect(got.verdict, context).toBe(want.verdict);
        if (got.rule) expect(t.rules.get(got.rule)?.source, context).toBe(want.rule);
        else if (port === 53 && want.rule === 'dns') dnsDenials++;
      }
    }
    expect(dnsDenials).toBeGreaterThan(30);
  });
});
