/**
 * `airlock doctor` against what this host really is, read independently:
 * kernel release, BTF, the active LSMs (securityfs read in a private mount
 * namespace, as doctor does, so the host's mounts stay as they are), the
 * cgroup layout from mountinfo, free disk, a port taken by someone else.
 */
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { release } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor, type CheckGroup } from '../../installer/doctor/index.js';
import { Layout } from '../../installer/layout.js';
import { airlock, ApplianceFixture, freePort } from '../helpers/appliance.js';

const run = promisify(execFile);

let fx: ApplianceFixture;
let report: any;
let code: number | null;

function check(id: string): any {
  const found = report.checks.find((c: { id: string }) => c.id === id);
  expect(found, `check ${id}`).toBeDefined();
  return found;
}

async function listen(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port }, resolve));
  return server;
}

beforeAll(async () => {
  fx = await ApplianceFixture.create('doctor');
  const mountsBefore = await readFile('/proc/self/mountinfo', 'utf8');
  const result = await airlock(['doctor', '--prefix', fx.prefix, '--json']);
  expect(await readFile('/proc/self/mountinfo', 'utf8')).toBe(mountsBefore);
  report = result.json;
  code = result.code;
});

afterAll(async () => {
  await fx.cleanup();
});

describe('airlock doctor --json', () => {
  it('reports every check group with pass, warn or fail, and exits 25 exactly when one fails', () => {
    for (const c of report.checks) {
      expect(['pass', 'warn', 'fail']).toContain(c.status);
      expect(c.message).toBeTruthy();
      if (c.status !== 'pass') expect(c.hint, c.id).toBeTruthy();
    }
    const groups = new Set(report.checks.map((c: { id: string }) => c.id.split('.')[0]));
    expect([...groups].sort()).toEqual(['cgroup', 'disk', 'ebpf', 'kaudit', 'kernel', 'landlock', 'lsm', 'ports', 'privileges', 'seccomp']);
    expect(code).toBe(report.ok ? 0 : 25);
    expect(report.ok).toBe(report.checks.every((c: { status: string }) => c.status !== 'fail'));
  });

  it('knows it runs as root, and the kernel release', () => {
    expect(check('privileges.root').status).toBe('pass');
    expect(check('kernel.version').message).toContain(release());
  });

  it('finds BTF exactly when the kernel exposes it', async () => {
    const btf = await access('/sys/kernel/btf/vmlinux').then(() => true, () => false);
    expect(check('kernel.btf').status).toBe(btf ? 'pass' : 'fail');
  });

  it('lists the active LSMs as the kernel reports them', async () => {
    const direct = await readFile('/sys/kernel/security/lsm', 'utf8').catch(() => undefined);
    const lsms = (direct ?? (await run('unshare', ['-m', 'sh', '-c', 'mount -t securityfs s /sys/kernel/security && cat /sys/kernel/security/lsm'])).stdout).trim();
    expect(check('lsm.active').message).toContain(`active LSMs: ${lsms.split(',').join(', ')}`);
    expect(check('lsm.landlock').status).toBe(lsms.split(',').includes('landlock') ? 'pass' : 'fail');
    expect(check('lsm.bpf').status).toBe(lsms.split(',').includes('bpf') ? 'pass' : 'warn');
  });

  it('names the cgroup layout from the mount table', async () => {
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
    const v2 = mounts.filter((l) => / - cgroup2 /.test(l)).map((l) => l.split(' ')[4]);
    const v1 = mounts.some((l) => / - cgroup /.test(l) && !/ - cgroup \S+ rw,name=/.test(l));
    const kind = v2.length && v1 ? 'hybrid' : v2.length ? 'v2' : 'v1';
    const cgroup = check('cgroup.layout');
    if (kind === 'v2') expect(cgroup.message).not.toMatch(/^(hybrid|v1)/);
    else expect(cgroup.message).toMatch(new RegExp(`^${kind}:`));
    for (const point of v2) expect(cgroup.message).toContain(`cgroup2 at ${point}`);
  });

  it('measures free disk where the prefix will be', () => {
    expect(check('disk.free').message).toMatch(/free at \/tmp\/.* \(prefix .*prefix\)/);
  });
});

describe('ports', () => {
  it('fails (exit 25) for a port the installed release needs that another process holds, passes for its own', async () => {
    const [mine, taken] = [await freePort(), await freePort()];
    const bundle = await fx.bundle({
      version: '1.0.0',
      sequence: 1,
      services: [
        { name: 'health', kind: 'ok', port: mine },
        { name: 'api', kind: 'ok', port: taken },
      ],
    });
    expect((await airlock(['install', bundle, '--trust', fx.trustRoot, '--prefix', fx.prefix, '--no-start'])).code).toBe(0);
    expect((await airlock(['up', '--prefix', fx.prefix, '--health-timeout', '1'])).code).toBe(0);
    expect((await airlock(['down', '--prefix', fx.prefix])).code).toBe(0);
    const squatter = await listen(taken);
    try {
      expect((await airlock(['up', '--prefix', fx.prefix, '--health-timeout', '1'])).code).toBe(22);
      const result = await airlock(['doctor', '--prefix', fx.prefix, '--json']);
      expect(result.code).toBe(25);
      const byId = new Map(result.json.checks.map((c: { id: string }) => [c.id, c]));
      expect(byId.get(`ports.${mine}`)).toMatchObject({ status: 'pass', message: expect.stringContaining("held by the appliance's health service") });
      expect(byId.get(`ports.${taken}`)).toMatchObject({ status: 'fail', message: expect.stringContaining('in use by another process'), hint: expect.stringContaining(`sport = :${taken}`) });
    } finally {
      squatter.close();
    }
  });
});

describe('the check registry', () => {
  it('takes new check groups, and a group that throws shows up as a failure without hiding the others', async () => {
    const extra: CheckGroup = { id: 'enforcer', title: 'enforcer', run: async () => [{ id: 'enforcer.launcher', status: 'warn', message: 'not built', hint: 'run .ci/prepare' }] };
    const broken: CheckGroup = { id: 'broken', title: 'broken', run: async () => { throw new Error('boom'); } };
    const result = await runDoctor({ layout: new Layout(fx.prefix), isRoot: true }, [extra, broken]);
    expect(result.checks).toEqual([
      { id: 'enforcer.launcher', status: 'warn', message: 'not built', hint: 'run .ci/prepare' },
      { id: 'broken', status: 'fail', message: 'the broken checks could not run: boom' },
    ]);
    expect(result).toMatchObject({ ok: false, counts: { pass: 0, warn: 1, fail: 1 } });
  });
});
