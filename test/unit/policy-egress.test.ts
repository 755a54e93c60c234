/**
 * Egress entries: CIDR and port syntax, IPv6 canonical form, v4-mapped
 * folding, and the reference decision (most specific rule wins, ties deny).
 */
import { describe, expect, it } from 'vitest';
import { compilePolicy, decideEgress, parseEgressEntry, type CompiledNetwork } from '../../services/enforcer/policy/index.js';

const rules = async (entries: string[]) => (await compilePolicy(`agent_policy:\n  network:\n    allow_egress: ${JSON.stringify(entries)}\n`)).network.allow;

describe('egress entry syntax', () => {
  it.each([
    ['*', [['0.0.0.0', 0, 4], ['::', 0, 6]], []],
    ['*:443', [['0.0.0.0', 0, 4], ['::', 0, 6]], [[443, 443]]],
    ['10.0.0.1', [['10.0.0.1', 32, 4]], []],
    ['10.0.0.0/8:443', [['10.0.0.0', 8, 4]], [[443, 443]]],
    ['0.0.0.0/0', [['0.0.0.0', 0, 4]], []],
    ['192.168.1.0/24:8000-8100,22', [['192.168.1.0', 24, 4]], [[22, 22], [8000, 8100]]],
    ['::1', [['::1', 128, 6]], []],
    ['[::1]:8080', [['::1', 128, 6]], [[8080, 8080]]],
    ['2001:DB8:0:0:0:0:0:1', [['2001:db8::1', 128, 6]], []],
    ['2001:db8::/32', [['2001:db8::', 32, 6]], []],
    ['[2001:db8:0:0:1::/80]', [['2001:db8:0:0:1::', 80, 6]], []],
    ['[2001:0:0:1:0:0:0:1]:853', [['2001:0:0:1::1', 128, 6]], [[853, 853]]],
    ['fe80::/10', [['fe80::', 10, 6]], []],
    ['::', [['::', 128, 6]], []],
    ['::ffff:10.1.2.3', [['10.1.2.3', 32, 4]], []],
    ['[::ffff:10.0.0.0/104]:443', [['10.0.0.0', 8, 4]], [[443, 443]]],
    ['::ffff:a01:203', [['10.1.2.3', 32, 4]], []],
    ['::ffff:0:0/96', [['0.0.0.0', 0, 4]], []],
  ] as const)('%s', async (entry, prefixes, ports) => {
    const out = await rules([entry]);
    expect(out.map((r) => [r.address, r.prefix, r.family])).toEqual(prefixes);
    for (const r of out) expect(r).toMatchObject({ ports, protocol: 'any', source: entry });
  });

  it('merges overlapping and adjacent port ranges, and sorts them', () => {
    expect(parseEgressEntry('h.test:443,80-90,85-100,101,7').ports).toEqual([[7, 7], [80, 101], [443, 443]]);
  });

  it('reads the protocol prefix', () => {
    expect(parseEgressEntry('udp://[2001:db8::53]:53')).toMatchObject({ protocol: 'udp', ports: [[53, 53]], target: { kind: 'prefix' } });
    expect(parseEgressEntry('TCP://h.test:443')).toMatchObject({ protocol: 'tcp', target: { kind: 'host', name: 'h.test' } });
  });

  it('normalises host names: lower case, no trailing dot', () => {
    expect(parseEgressEntry('API.Example.COM.:443').target).toEqual({ kind: 'host', name: 'api.example.com' });
  });

  it('a bare IPv6 address never carries a port (that is what brackets are for)', () => {
    expect(parseEgressEntry('2001:db8::1:443')).toMatchObject({ ports: [], target: { kind: 'prefix' } });
  });

  it('drops duplicate rules', async () => {
    expect(await rules(['10.0.0.1', '10.0.0.1'])).toHaveLength(1);
  });
});

describe('the egress decision', () => {
  const net = (allow: string[], deny: string[], extra: Partial<CompiledNetwork> = {}) =>
    compilePolicy(`agent_policy:\n  network:\n    allow_egress: ${JSON.stringify(allow)}\n    deny_egress: ${JSON.stringify(deny)}\n`).then((p) => ({ ...p.network, ...extra }));
  const q = (address: string, port = 443, protocol: 'tcp' | 'udp' = 'tcp') => ({ address, port, protocol });

  it('denies what no rule matches', async () => {
    expect(decideEgress(await net([], []), q('1.1.1.1'))).toEqual({ verdict: 'deny', rule: 'default' });
  });

  it('deny "*" is the default deny: any allow is more specific', async () => {
    const n = await net(['10.0.0.0/8:443'], ['*']);
    expect(decideEgress(n, q('10.2.3.4'))).toEqual({ verdict: 'allow', rule: '10.0.0.0/8:443' });
    expect(decideEgress(n, q('10.2.3.4', 80))).toEqual({ verdict: 'deny', rule: '*' });
    expect(decideEgress(n, q('11.0.0.1'))).toEqual({ verdict: 'deny', rule: '*' });
  });

  it('a longer deny prefix carves a hole in an allow', async () => {
    const n = await net(['10.0.0.0/8'], ['10.6.0.0/16']);
    expect(decideEgress(n, q('10.6.1.1')).verdict).toBe('deny');
    expect(decideEgress(n, q('10.7.1.1')).verdict).toBe('allow');
  });

  it('at the same prefix, a rule with ports beats one without; an exact tie goes to deny', async () => {
    expect(decideEgress(await net(['*:443'], ['*']), q('8.8.8.8')).verdict).toBe('allow');
    expect(decideEgress(await net(['10.0.0.5:443'], ['10.0.0.5']), q('10.0.0.5')).verdict).toBe('allow');
    expect(decideEgress(await net(['10.0.0.5'], ['10.0.0.5:443']), q('10.0.0.5')).verdict).toBe('deny');
    expect(decideEgress(await net(['10.0.0.5'], ['10.0.0.5']), q('10.0.0.5')).verdict).toBe('deny');
  });

  it('a protocol-specific rule beats "any" at the same prefix and ports', async () => {
    const n = await net(['udp://10.0.0.5:123'], ['10.0.0.5:123']);
    expect(decideEgress(n, q('10.0.0.5', 123, 'udp')).verdict).toBe('allow');
    expect(decideEgress(n, q('10.0.0.5', 123, 'tcp')).verdict).toBe('deny');
  });

  it('matches IPv6 and folds v4-mapped queries onto IPv4 rules', async () => {
    const n = await net(['2001:db8::/32', '192.0.2.0/24'], ['*']);
    expect(decideEgress(n, q('2001:db8:1::9')).verdict).toBe('allow');
    expect(decideEgress(n, q('2001:db9::1')).verdict).toBe('deny');
    expect(decideEgress(n, q('::ffff:192.0.2.7')).verdict).toBe('allow');
    expect(decideEgress(n, q('::ffff:192.0.3.7')).verdict).toBe('deny');
  });

  it('loopback is an implicit allow of 127.0.0.0/8 and ::1 that a narrower deny overrides', async () => {
    const n = await net([], ['*', '127.0.0.1:6379'], { loopback: true });
    expect(decideEgress(n, q('127.0.0.1', 8080))).toEqual({ verdict: 'allow', rule: 'loopback' });
    expect(decideEgress(n, q('127.9.9.9', 8080)).verdict).toBe('allow');
    expect(decideEgress(n, q('::1', 8080)).verdict).toBe('allow');
    expect(decideEgress(n, q('::ffff:127.0.0.1', 8080)).verdict).toBe('allow');
    expect(decideEgress(n, q('127.0.0.1', 6379))).toEqual({ verdict: 'deny', rule: '127.0.0.1:6379' });
    expect(decideEgress({ ...n, loopback: false }, q('127.0.0.1', 8080)).verdict).toBe('deny');
  });

  it('DNS is pinned to the resolver: port 53 elsewhere is denied whatever the rules say', async () => {
    const n = await net(['*', '10.0.0.0/8:1-1024'], [], { resolver: { address: '10.0.0.53', port: 53 } });
    expect(decideEgress(n, q('8.8.8.8', 53, 'udp'))).toEqual({ verdict: 'deny', rule: 'dns' });
    expect(decideEgress(n, q('10.1.1.1', 53, 'tcp'))).toEqual({ verdict: 'deny', rule: 'dns' });
    expect(decideEgress(n, q('::ffff:10.0.0.53', 53, 'udp'))).toEqual({ verdict: 'allow', rule: 'resolver' });
    expect(decideEgress(n, q('8.8.8.8', 853, 'tcp')).verdict).toBe('allow');
    // A resolver on another port takes port 53 nowhere.
    const other = await net(['*'], [], { resolver: { address: '10.0.0.53', port: 5353 } });
    expect(decideEgress(other, q('10.0.0.53', 53, 'udp')).verdict).toBe('deny');
    expect(decideEgress(other, q('10.0.0.53', 5353, 'udp'))).toEqual({ verdict: 'allow', rule: 'resolver' });
  });

  it('the resolver is reachable on its port only', async () => {
    const n = await net([], ['*'], { resolver: { address: '10.0.0.53', port: 53 } });
    expect(decideEgress(n, q('10.0.0.53', 53, 'udp'))).toEqual({ verdict: 'allow', rule: 'resolver' });
    expect(decideEgress(n, q('10.0.0.53', 53, 'tcp')).verdict).toBe('allow');
    expect(decideEgress(n, q('10.0.0.53', 5353, 'udp')).verdict).toBe('deny');
    expect(decideEgress(n, q('10.0.0.54', 53, 'udp')).verdict).toBe('deny');
  });

  it('refuses a query that is not an address', async () => {
    expect(() => decideEgress({ allow: [], deny: [], loopback: false }, q('example.com'))).toThrow(/not an IP address/);
  });
});
