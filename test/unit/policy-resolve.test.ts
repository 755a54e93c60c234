/**
 * Host names in egress rules: resolved at compile time through the
 * configured resolver only (a real DNS server on loopback here), TTL-driven
 * and fixed-interval refresh with rule diffs, failures that keep the last
 * good rules, and the development profile's loopback ceiling on names.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  compilePolicy,
  createDnsResolver,
  diffEgress,
  preparePolicy,
  PolicyRefresher,
  type HostResolver,
  type PolicyUpdate,
} from '../../services/enforcer/policy/index.js';
import { startDnsResponder, type DnsResponder } from './policy-dns-responder.js';

const POLICY = `agent_policy:
  extends: production
  network:
    allow_egress: ["api.internal.test:443", "[2001:db8::/32]:22"]
    deny_egress: ["blocked.internal.test"]
`;

let dns: DnsResponder;
beforeEach(async () => {
  dns = await startDnsResponder({
    'api.internal.test': { a: ['10.1.2.3'], aaaa: ['2001:db8::7', '::ffff:10.9.9.9'], ttl: 1 },
    'blocked.internal.test': { a: ['10.66.0.1'], ttl: 600 },
    'v4only.internal.test': { a: ['192.0.2.10'] },
  });
});
afterEach(async () => {
  await dns.close();
});

const server = () => ({ address: '127.0.0.1', port: dns.port });

describe('resolution through the configured DNS server', () => {
  it('asks only the configured server and compiles A and AAAA answers to /32 and /128 rules (v4-mapped folded)', async () => {
    const policy = await compilePolicy(POLICY, { workspace: '/w', resolver: server() });
    expect(policy.network.allow).toEqual([
      { address: '10.1.2.3', prefix: 32, family: 4, ports: [[443, 443]], protocol: 'any', source: 'api.internal.test:443' },
      { address: '2001:db8::7', prefix: 128, family: 6, ports: [[443, 443]], protocol: 'any', source: 'api.internal.test:443' },
      { address: '10.9.9.9', prefix: 32, family: 4, ports: [[443, 443]], protocol: 'any', source: 'api.internal.test:443' },
      { address: '2001:db8::', prefix: 32, family: 6, ports: [[22, 22]], protocol: 'any', source: '[2001:db8::/32]:22' },
    ]);
    expect(policy.network.deny.map((r) => `${r.address}/${r.prefix}`)).toEqual(['0.0.0.0/0', '::/0', '10.66.0.1/32']);
    // The production profile lets the agent use DNS, and only this server.
    expect(policy.network.resolver).toEqual({ address: '127.0.0.1', port: dns.port });
    expect(dns.queries).toEqual(
      expect.arrayContaining([
        { name: 'api.internal.test', type: 'A' },
        { name: 'api.internal.test', type: 'AAAA' },
        { name: 'blocked.internal.test', type: 'A' },
      ]),
    );
  });

  it('reports the shortest TTL and handles names with only one family', async () => {
    const resolve = createDnsResolver(server());
    expect(await resolve('v4only.internal.test')).toEqual({ addresses: ['192.0.2.10'], ttlSeconds: 300 });
    expect(await resolve('api.internal.test')).toMatchObject({ ttlSeconds: 1 });
  });

  it('a name the server does not know is POLICY_UNRESOLVED at its line and column', async () => {
    const text = 'agent_policy:\n  network:\n    allow_egress:\n      - 10.0.0.0/8\n      - nowhere.internal.test\n';
    await expect(compilePolicy(text, { file: 'p.yaml', resolver: server() })).rejects.toMatchObject({
      code: 'POLICY_UNRESOLVED',
      message: expect.stringMatching(/^p\.yaml:5:9 agent_policy\.network\.allow_egress\[1\]: "nowhere\.internal\.test" did not resolve: /),
    });
  });

  it('a dead server is POLICY_UNRESOLVED, not a hang', async () => {
    await dns.close();
    const resolve = createDnsResolver(server(), { timeoutMs: 200, tries: 1 });
    const t0 = Date.now();
    await expect(compilePolicy('agent_policy:\n  network:\n    allow_egress: [api.internal.test]\n', { resolve })).rejects.toMatchObject({ code: 'POLICY_UNRESOLVED' });
    expect(Date.now() - t0).toBeLessThan(3000);
    dns = await startDnsResponder({}); // for afterEach
  });

  it('without a resolver, host names cannot compile, localhost still does (never sent to DNS)', async () => {
    await expect(compilePolicy('agent_policy:\n  network:\n    allow_egress: [api.internal.test]\n')).rejects.toMatchObject({
      code: 'POLICY_UNRESOLVED',
      message: expect.stringContaining('no DNS resolver is configured'),
    });
    const p = await compilePolicy('agent_policy:\n  network:\n    allow_egress: ["localhost:8080"]\n');
    expect(p.network.allow.map((r) => r.address)).toEqual(['127.0.0.1', '::1']);
    expect(p.network.resolver).toBeUndefined();
  });

  it('development: a name must resolve to loopback', async () => {
    const resolve: HostResolver = async (h) => ({ addresses: h === 'registry.local' ? ['127.0.0.1'] : ['192.0.2.1'] });
    const ok = await compilePolicy('agent_policy:\n  extends: development\n  network:\n    allow_egress: ["registry.local:4873"]\n', { workspace: '/w', resolve });
    expect(ok.network.allow).toEqual([{ address: '127.0.0.1', prefix: 32, family: 4, ports: [[4873, 4873]], protocol: 'any', source: 'registry.local:4873' }]);
    await expect(
      compilePolicy('agent_policy:\n  extends: development\n  network:\n    allow_egress: ["evil.example"]\n', { workspace: '/w', resolve, file: 'd.yaml' }),
    ).rejects.toMatchObject({
      code: 'POLICY_INVALID',
      message: 'd.yaml:4:20 agent_policy.network.allow_egress[0]: "evil.example" reaches 192.0.2.1/32: the development profile allows loopback egress only; extend production to reach other addresses',
    });
  });
});

describe('refresh', () => {
  it('follows the TTL and emits the new policy with the rules added and removed', async () => {
    const refresher = await PolicyRefresher.start(preparePolicy(POLICY, { workspace: '/w' }), { resolver: server(), minIntervalSeconds: 0.2 });
    try {
      expect(refresher.policy.network.allow.map((r) => r.address)).toContain('10.1.2.3');
      dns.zone['api.internal.test'] = { a: ['10.1.2.4'], aaaa: ['2001:db8::7'], ttl: 1 };
      const t0 = Date.now();
      const update = await new Promise<PolicyUpdate>((resolve) => refresher.once('update', resolve));
      // TTL 1 s: the refresh came about a second after the first resolution.
      expect(Date.now() - t0).toBeLessThan(2500);
      expect(update.diff.allow.added.map((r) => r.address)).toEqual(['10.1.2.4']);
      expect(update.diff.allow.removed.map((r) => r.address).sort()).toEqual(['10.1.2.3', '10.9.9.9']);
      expect(update.diff.deny).toEqual({ added: [], removed: [] });
      expect(update.previous.network.allow.map((r) => r.address)).toContain('10.1.2.3');
      expect(refresher.policy).toBe(update.policy);
    } finally {
      refresher.stop();
    }
  });

  it('emits nothing when nothing changed, and keeps the last good rules when DNS fails', async () => {
    const refresher = await PolicyRefresher.start(preparePolicy(POLICY, { workspace: '/w' }), {
      resolve: createDnsResolver(server(), { timeoutMs: 200, tries: 1 }),
      intervalSeconds: 3600,
    });
    try {
      const updates: PolicyUpdate[] = [];
      const errors: Error[] = [];
      refresher.on('update', (u) => updates.push(u));
      refresher.on('error', (e) => errors.push(e));
      const before = refresher.policy;
      expect(await refresher.refresh()).toBeUndefined();
      expect(updates).toEqual([]);

      dns.zone['api.internal.test'] = {};
      delete dns.zone['api.internal.test'];
      expect(await refresher.refresh()).toBeUndefined();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: 'POLICY_UNRESOLVED' });
      expect(refresher.policy).toBe(before);

      dns.zone['api.internal.test'] = { a: ['10.1.2.5'] };
      const update = await refresher.refresh();
      expect(update?.diff.allow.added.map((r) => r.address)).toEqual(['10.1.2.5']);
      expect(updates).toHaveLength(1);
    } finally {
      refresher.stop();
    }
  });

  it('diffEgress compares whole rules (ports and protocol too)', async () => {
    const resolve: HostResolver = async () => ({ addresses: ['10.0.0.1'] });
    const a = await compilePolicy('agent_policy:\n  network:\n    allow_egress: ["x.test:443"]\n', { resolve });
    const b = await compilePolicy('agent_policy:\n  network:\n    allow_egress: ["tcp://x.test:443"]\n', { resolve });
    const d = diffEgress(a, b);
    expect(d.allow.added).toHaveLength(1);
    expect(d.allow.removed).toHaveLength(1);
    expect(diffEgress(a, a)).toEqual({ allow: { added: [], removed: [] }, deny: { added: [], removed: [] } });
  });
});
