/**
 * How a policy merges over the profile it extends: lists union, scalars
 * override, budgets are the policy's, grants may narrow but never widen, and
 * each profile's ceiling on what may be added.
 */
import { describe, expect, it } from 'vitest';
import { compilePolicy, prepareProfile, resolvePolicy } from '../../services/enforcer/policy/index.js';

const WS = '/srv/ws';
const over = (profile: string, body = '') => compilePolicy(`agent_policy:\n  extends: ${profile}\n${body}`, { workspace: WS, file: 'p.yaml' });
const profile = async (name: 'sandbox' | 'development' | 'production') => (await resolvePolicy(prepareProfile(name, { workspace: WS }))).policy;

describe('merge over a profile', () => {
  it('with nothing of its own, a policy is its profile', async () => {
    for (const name of ['sandbox', 'development', 'production'] as const) {
      const p = await over(name);
      const { name: _a, source: _b, sourceSha256: _c, ...mine } = p;
      const { name: _d, source: _e, sourceSha256: _f, ...theirs } = await profile(name);
      expect(mine).toEqual(theirs);
      expect(p.extends).toBe(name);
    }
  });

  it('filesystem lists union in order base, profile, policy, without duplicates', async () => {
    const p = await over('development', '  filesystem:\n    read: ["/data", "/usr", "/data/"]\n    exec: ["/opt/bin"]\n    write: ["/srv/ws"]\n');
    const dev = await profile('development');
    expect(p.filesystem.read).toEqual([...dev.filesystem.read, '/data']);
    expect(p.filesystem.exec).toEqual([...dev.filesystem.exec, '/opt/bin']);
    expect(p.filesystem.write).toEqual(dev.filesystem.write);
  });

  it('egress lists union too: the profile deny "*" stays, the policy adds', async () => {
    const p = await over('production', '  network:\n    allow_egress: ["10.0.0.0/8:443"]\n    deny_egress: ["10.66.0.0/16"]\n');
    expect(p.network.allow.map((r) => r.source)).toEqual(['10.0.0.0/8:443']);
    expect(p.network.deny.map((r) => r.source)).toEqual(['*', '*', '10.66.0.0/16']);
  });

  it('budgets are the policy’s: given values replace the profile’s, lower or higher; missing ones are inherited', async () => {
    const p = await over('sandbox', '  execution:\n    max_memory_mb: 4096\n    timeout_minutes: 5\n');
    expect(p.execution).toMatchObject({ maxProcesses: 32, maxMemoryBytes: 4096 * 1024 * 1024, timeoutSeconds: 300 });
  });

  it('on_violation and the name are the policy’s to choose', async () => {
    expect(await over('sandbox', '  name: lab\n  on_violation: deny\n')).toMatchObject({ name: 'lab', onViolation: 'deny', extends: 'sandbox' });
  });

  it('may narrow: turn off what the profile allows', async () => {
    const p = await over('development', '  network:\n    loopback: false\n  execution:\n    spawn: false\n    exec: false\n');
    expect(p.network.loopback).toBe(false);
    expect(p.execution).toMatchObject({ spawn: false, exec: false });
    const q = await over('production', '  network:\n    dns: false\n', );
    expect(q.network.resolver).toBeUndefined();
  });

  it('may never widen: grants the profile has off, or audit it has on', async () => {
    await expect(over('sandbox', '  network:\n    loopback: true\n    dns: true\n  execution:\n    spawn: true\n    exec: true\n')).rejects.toMatchObject({
      code: 'POLICY_INVALID',
      message: [
        '4 problems in the policy:',
        '  p.yaml:4:15 agent_policy.network.loopback: cannot be true: the sandbox profile turns it off (a policy may narrow its profile, never widen it)',
        '  p.yaml:5:10 agent_policy.network.dns: cannot be true: the sandbox profile turns it off (a policy may narrow its profile, never widen it)',
        '  p.yaml:7:12 agent_policy.execution.spawn: cannot be true: the sandbox profile turns it off (a policy may narrow its profile, never widen it)',
        '  p.yaml:8:11 agent_policy.execution.exec: cannot be true: the sandbox profile turns it off (a policy may narrow its profile, never widen it)',
      ].join('\n'),
    });
    await expect(over('development', '  network:\n    dns: true\n')).rejects.toMatchObject({ message: expect.stringContaining('agent_policy.network.dns: cannot be true: the development profile') });
    await expect(over('production', '  audit:\n    allows: false\n')).rejects.toMatchObject({
      message: 'p.yaml:4:13 agent_policy.audit.allows: cannot be false: the production profile audits every operation',
    });
    // Setting what the profile already has is fine.
    await expect(over('production', '  audit:\n    allows: true\n  network:\n    dns: true\n')).resolves.toBeTruthy();
  });

  describe('ceilings', () => {
    it('sandbox: reads may be added; egress and writes may not', async () => {
      expect((await over('sandbox', '  filesystem:\n    read: ["/data/in"]\n')).filesystem.read.at(-1)).toBe('/data/in');
      await expect(over('sandbox', '  network:\n    allow_egress: ["127.0.0.1:80"]\n')).rejects.toMatchObject({
        message: 'p.yaml:4:20 agent_policy.network.allow_egress[0]: the sandbox profile allows no network egress; extend development (loopback) or production (listed egress)',
      });
      await expect(over('sandbox', '  filesystem:\n    write: ["/data/out"]\n')).rejects.toMatchObject({
        message: 'p.yaml:4:13 agent_policy.filesystem.write[0]: the sandbox profile writes only to the workspace and the temporary directory; extend development or production to add write paths',
      });
      // Deny entries only narrow, so they are welcome anywhere.
      expect((await over('sandbox', '  network:\n    deny_egress: ["10.0.0.0/8"]\n')).network.deny).toHaveLength(3);
    });

    it('development: loopback egress only', async () => {
      const p = await over('development', '  network:\n    loopback: false\n    allow_egress: ["127.0.0.1:4873", "[::1]:5050", "127.0.0.0/8:7410", "localhost:4318"]\n');
      expect(p.network.allow.map((r) => `${r.address}/${r.prefix}`)).toEqual(['127.0.0.1/32', '::1/128', '127.0.0.0/8', '127.0.0.1/32', '::1/128']);
      for (const entry of ['10.0.0.1', '*', '*:443', '0.0.0.0/0', '::/0', '126.0.0.0/7', '::ffff:10.0.0.1']) {
        await expect(over('development', `  network:\n    allow_egress: ["${entry}"]\n`)).rejects.toMatchObject({ code: 'POLICY_INVALID', message: expect.stringContaining('loopback egress only') });
      }
    });

    it('production: any listed egress', async () => {
      const p = await over('production', '  network:\n    allow_egress: ["*:443", "2001:db8::/32"]\n  filesystem:\n    write: ["/data/out"]\n');
      expect(p.network.allow).toHaveLength(3);
      expect(p.filesystem.write.at(-1)).toBe('/data/out');
    });
  });
});
