/** What each key of the language compiles to, with the defaults of a policy that extends nothing. */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { compilePolicy, PROFILE_SOURCES, type CompileOptions } from '../../services/enforcer/policy/index.js';

const compile = (body: string, options: CompileOptions = {}) => compilePolicy(`agent_policy:\n${body}`, options);
const BASE_READ_HEAD = ['/usr', '/bin', '/sbin', '/lib', '/lib64'];

describe('the policy language', () => {
  it('compiles the seed example: everything resolved, defaults filled, source hashed', async () => {
    const text = `agent_policy:
  network:
    allow_egress: ["api.internal.company.com"]
    deny_egress: ["*"]
  filesystem:
    read: ["/data/inputs"]
    write: ["/data/outputs"]
  execution:
    max_processes: 10
    max_memory_mb: 4096
    timeout_minutes: 120
`;
    const policy = await compilePolicy(text, { file: 'seed.yaml', name: 'seed', resolver: { address: '10.0.0.53' }, resolve: async () => ({ addresses: ['10.1.1.1', '2001:db8::10'] }) });
    expect(policy).toEqual({
      name: 'seed',
      source: 'seed.yaml',
      sourceSha256: createHash('sha256').update(text).digest('hex'),
      onViolation: 'kill',
      filesystem: {
        read: [...policy.filesystem.read.slice(0, -1), '/data/inputs'],
        write: ['/dev/null', '/data/outputs'],
        exec: BASE_READ_HEAD,
      },
      network: {
        allow: [
          { address: '10.1.1.1', prefix: 32, family: 4, ports: [], protocol: 'any', source: 'api.internal.company.com' },
          { address: '2001:db8::10', prefix: 128, family: 6, ports: [], protocol: 'any', source: 'api.internal.company.com' },
        ],
        deny: [
          { address: '0.0.0.0', prefix: 0, family: 4, ports: [], protocol: 'any', source: '*' },
          { address: '::', prefix: 0, family: 6, ports: [], protocol: 'any', source: '*' },
        ],
        loopback: false,
        // It names a host, so it may ask the configured resolver (and only it).
        resolver: { address: '10.0.0.53', port: 53 },
      },
      execution: { spawn: true, exec: true, maxProcesses: 10, maxMemoryBytes: 4096 * 1024 * 1024, timeoutSeconds: 7200 },
      audit: { allows: false },
    });
    expect(policy.filesystem.read.slice(0, 5)).toEqual(BASE_READ_HEAD);
  });

  it('fills the defaults of a policy that extends nothing', async () => {
    const p = await compile('  name: minimal\n');
    expect(p.name).toBe('minimal');
    expect(p.extends).toBeUndefined();
    expect(p.onViolation).toBe('kill');
    expect(p.execution).toEqual({ spawn: true, exec: true, maxProcesses: 64, maxMemoryBytes: 1024 << 20, timeoutSeconds: 3600 });
    expect(p.network).toEqual({ allow: [], deny: [], loopback: false });
    expect(p.audit).toEqual({ allows: false });
    expect(p.filesystem.write).toEqual(['/dev/null']);
  });

  it('reads every key', async () => {
    const p = await compile(
      `  name: every-key
  on_violation: deny
  network:
    allow_egress: ["10.0.0.0/8:443"]
    deny_egress: ["10.9.0.0/16"]
    loopback: true
    dns: true
  filesystem:
    read: ["/data/in"]
    write: ["/data/out"]
    exec: ["/opt/tools/bin"]
  execution:
    spawn: false
    exec: false
    max_processes: 3
    max_memory_mb: 4
    timeout_minutes: 0.5
  audit:
    allows: true
`,
      { resolver: { address: '::1', port: 5353 } },
    );
    expect(p.name).toBe('every-key');
    expect(p.onViolation).toBe('deny');
    expect(p.network.allow.map((r) => r.source)).toEqual(['10.0.0.0/8:443']);
    expect(p.network.deny.map((r) => r.source)).toEqual(['10.9.0.0/16']);
    expect(p.network.loopback).toBe(true);
    expect(p.network.resolver).toEqual({ address: '::1', port: 5353 });
    expect(p.filesystem.read.at(-1)).toBe('/data/in');
    expect(p.filesystem.write).toEqual(['/dev/null', '/data/out']);
    expect(p.filesystem.exec.at(-1)).toBe('/opt/tools/bin');
    expect(p.execution).toEqual({ spawn: false, exec: false, maxProcesses: 3, maxMemoryBytes: 4 << 20, timeoutSeconds: 30 });
    expect(p.audit.allows).toBe(true);
  });

  it('gives no resolver when DNS is off, even when one is configured', async () => {
    const p = await compile('  network:\n    allow_egress: ["10.0.0.1"]\n', { resolver: { address: '10.0.0.53' } });
    expect(p.network.resolver).toBeUndefined();
    const q = await compile('  network:\n    allow_egress: ["h.test"]\n    dns: false\n', { resolver: { address: '10.0.0.53' }, resolve: async () => ({ addresses: ['10.0.0.1'] }) });
    expect(q.network.resolver).toBeUndefined();
  });

  it('normalises paths and resolves placeholders', async () => {
    const p = await compile('  filesystem:\n    read: ["/data//in/./x/", "${workspace}", "${workspace}/sub/", "${tmp}/cache"]\n    write: ["${tmp}"]\n', {
      workspace: '/srv/agents/a1/',
      tmp: '/run/airlock/a1/tmp',
    });
    expect(p.filesystem.read.slice(-4)).toEqual(['/data/in/x', '/srv/agents/a1', '/srv/agents/a1/sub', '/run/airlock/a1/tmp/cache']);
    expect(p.filesystem.write).toEqual(['/dev/null', '/run/airlock/a1/tmp']);
    expect((await compile('  filesystem:\n    write: ["${tmp}"]\n')).filesystem.write).toEqual(['/dev/null', '/tmp']);
  });

  it('needs a workspace to resolve ${workspace}, and a usable one', async () => {
    await expect(compile('  filesystem:\n    write: ["${workspace}"]\n', { file: 'p.yaml' })).rejects.toMatchObject({
      code: 'POLICY_INVALID',
      message: 'p.yaml:3:13 agent_policy.filesystem.write[0]: "${workspace}" uses ${workspace} but no workspace was given to the compiler',
    });
    await expect(compile('  name: x\n', { workspace: 'relative/ws' })).rejects.toMatchObject({ code: 'POLICY_INVALID', message: expect.stringContaining('the workspace "relative/ws" cannot be used') });
    await expect(compile('  name: x\n', { workspace: '/' })).rejects.toMatchObject({ code: 'POLICY_INVALID', message: expect.stringContaining('root directory') });
    await expect(compile('  name: x\n', { tmp: '/a/../b' })).rejects.toMatchObject({ code: 'POLICY_INVALID' });
  });

  it('refuses paths that reach the protected paths the caller adds, from above or below', async () => {
    const o = { protectedPaths: ['/opt/airlock'], file: 'p.yaml' };
    await expect(compile('  filesystem:\n    write: ["/opt/airlock/var/audit"]\n', o)).rejects.toMatchObject({ message: expect.stringContaining('would give access to /opt/airlock') });
    await expect(compile('  filesystem:\n    read: ["/opt"]\n', o)).rejects.toMatchObject({ message: expect.stringContaining('would give access to /opt/airlock') });
    await expect(compile('  filesystem:\n    read: ["/opt/airlock-other"]\n', o)).resolves.toBeTruthy();
    // The workspace itself cannot be put inside a protected path either.
    await expect(compilePolicy(PROFILE_SOURCES.sandbox.replace('agent_policy:', 'agent_policy:\n  name: s'), { ...o, workspace: '/opt/airlock/var/ws' })).rejects.toMatchObject({ code: 'POLICY_INVALID' });
  });

  it('refuses a resolver that is not an address and port', async () => {
    for (const resolver of [{ address: 'dns.local' }, { address: '10.0.0.53', port: 0 }, { address: '10.0.0.53', port: 70000 }]) {
      await expect(compile('  name: x\n', { resolver })).rejects.toMatchObject({ code: 'POLICY_INVALID', message: expect.stringContaining('cannot be used') });
    }
    expect((await compile('  network:\n    dns: true\n', { resolver: { address: '::ffff:10.0.0.53', port: 5353 } })).network.resolver).toEqual({ address: '10.0.0.53', port: 5353 });
  });

  it('compiles the same text to the same policy', async () => {
    const text = 'agent_policy:\n  network:\n    allow_egress: ["10.0.0.1", "::1"]\n';
    expect(await compilePolicy(text)).toEqual(await compilePolicy(text));
  });
});
