/**
 * Ordinary programs under `airlock run` (the built CLI, root, real kernel),
 * each profile in its default on_violation: kill. They read their own
 * /proc/self, children included (the agent's PID namespace has a /proc of
 * its own), and probe cgroupfs for their limits (masked: ENOENT, not a
 * denial): nothing is denied, nothing is killed. npm works under
 * development, `npm ci` from a local cache included. The agent sees only its
 * own processes, and cannot leave its cgroups by any path.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock } from '../helpers/appliance.js';
import { agentCgroups, NOBODY, PYTHON, RunFixture, waitFor } from '../helpers/enforcer-run.js';
import type { AirlockRun } from '../helpers/run-airlock.js';

const PROFILES = ['sandbox', 'development', 'production'] as const;
type Profile = (typeof PROFILES)[number];
/** Where the base profile lets programs run from. */
const SYSTEM = ['/usr', '/bin', '/sbin', '/lib', '/lib64'];
const NODE = process.execPath;

let fx: RunFixture;
let ws: string;

beforeAll(() => {
  fx = new RunFixture('e2e-tools');
  ws = fx.workspace();
});

afterAll(() => fx?.cleanup());

/** The profile, or a policy extending it that lets this test runner's node run (when it lives outside the system paths). */
function withNode(profile: Profile): string {
  if (SYSTEM.some((dir) => NODE.startsWith(`${dir}/`))) return profile;
  const prefix = dirname(dirname(NODE));
  const grant = profile === 'sandbox' ? `read: ["${prefix}"]` : `exec: ["${prefix}"]`;
  return fx.policy(`${profile}-node`, `agent_policy:\n  extends: ${profile}\n  filesystem:\n    ${grant}\n`);
}

/** `airlock run --json` (the agent's stdout comes out on stderr) in `dir`. */
function run(policy: string, command: string[], dir = ws): Promise<AirlockRun> {
  return fx.airlock(['run', '--json', '--policy', policy, '--workspace', dir, '--', ...command]);
}

/** It ran to its end, exit 0, and no layer denied or killed anything. */
function expectClean(r: AirlockRun): void {
  expect(r.json, r.stderr).toMatchObject({ endedBy: 'exit', exitCode: 0, violation: null, status: 0 });
  expect(fx.events(r.json.agent).filter((e) => e.verdict !== 'allow')).toEqual([]);
}

describe.each(PROFILES)('%s, killing at the first violation', (profile) => {
  it('ls -la of the workspace: its files are the agent’s own uid’s while it runs (one with no account: a number)', async () => {
    const r = await run(profile, ['/bin/ls', '-la']);
    expectClean(r);
    const [, uid, gid] = /^-rw-r--r-- 1 (\d+) (\d+)\s+\d+ .* in\.txt$/m.exec(r.stderr) ?? [];
    expect(Number(uid)).toBeGreaterThanOrEqual(2_000_000_000);
    expect(gid).toBe(uid);
    expect(statSync(join(ws, 'in.txt')).uid).toBe(NOBODY); // and nobody's again after
  });

  it('grep -P (PCRE JIT) over a workspace file', async () => {
    const r = await run(profile, ['/bin/grep', '-P', '^input\\s+of\\b', 'in.txt']);
    expectClean(r);
    expect(r.stderr).toContain('input of the agent\n');
  });

  it('python3 imports ssl and json', async () => {
    const r = await run(profile, [PYTHON, '-c', 'import ssl, json; print(1)']);
    expectClean(r);
    expect(r.stderr).toMatch(/^1$/m);
  });

  it('node starts (it reads its memory limit from cgroupfs: ENOENT) and reads the total memory', async () => {
    const r = await run(withNode(profile), [NODE, '-e', "console.log(require('os').totalmem() > 0, process.constrainedMemory())"]);
    expectClean(r);
    expect(r.stderr).toMatch(/^true 0$/m);
  });
});

describe.each(['development', 'production'] as const)('%s: children of the agent', (profile) => {
  it('grep -P in a child reads the child’s own /proc/self/maps; node as a child starts', async () => {
    const r = await run(withNode(profile), ['/bin/sh', '-c', `grep -P '^input\\s+of\\b' in.txt && grep -c . /proc/self/maps && ${NODE} -e 'console.log(process.pid)'`]);
    expectClean(r);
    expect(r.stderr).toMatch(/^input of the agent\n\d+\n\d+\n/m);
  });
});

describe('development: modes and times in the workspace', () => {
  it('touch, chmod +x and explicit times of a workspace file', async () => {
    const r = await run('development', ['/bin/sh', '-c', 'touch made && chmod +x made && test -x made && touch -d @1000000000 made && stat -c "%a %Y" made']);
    expectClean(r);
    expect(r.stderr).toMatch(/^755 1000000000$/m);
    expect(statSync(join(ws, 'made')).uid).toBe(NOBODY);
  });
});

describe('development: npm', () => {
  let project: string;

  /** A package made here and packed with npm: no registry, no network. */
  function pack(root: string, name: string, manifest: Record<string, unknown>, index: string): string {
    const dir = join(root, 'src', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js', ...manifest }));
    writeFileSync(join(dir, 'index.js'), index);
    execFileSync('npm', ['pack', '--silent', '--pack-destination', root], { cwd: dir, env: { ...process.env, npm_config_update_notifier: 'false' } });
    return join(root, `${name}-1.0.0.tgz`);
  }

  beforeAll(() => {
    project = fx.workspace();
    const cache = join(project, 'npm-cache');
    const b = pack(fx.root, 'airlock-tiny-b', {}, "module.exports = 'b';\n");
    const a = pack(fx.root, 'airlock-tiny-a', { dependencies: { 'airlock-tiny-b': '^1.0.0' }, scripts: { postinstall: `node -e "require('fs').writeFileSync('installed', process.argv[1])" ok` } }, "module.exports = 'a' + require('airlock-tiny-b');\n");
    for (const tarball of [a, b]) execFileSync('npm', ['cache', 'add', tarball, '--cache', cache, '--offline'], { stdio: 'ignore' });
    const integrity = (file: string) => `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
    // A registry that does not exist: with --offline, npm takes the tarballs from the cache by integrity.
    const registry = 'http://registry.invalid';
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'project', version: '1.0.0', dependencies: { 'airlock-tiny-a': '1.0.0' } }));
    const lock = {
      name: 'project',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'project', version: '1.0.0', dependencies: { 'airlock-tiny-a': '1.0.0' } },
        'node_modules/airlock-tiny-a': { version: '1.0.0', resolved: `${registry}/airlock-tiny-a/-/airlock-tiny-a-1.0.0.tgz`, integrity: integrity(a), hasInstallScript: true, dependencies: { 'airlock-tiny-b': '^1.0.0' } },
        'node_modules/airlock-tiny-b': { version: '1.0.0', resolved: `${registry}/airlock-tiny-b/-/airlock-tiny-b-1.0.0.tgz`, integrity: integrity(b) },
      },
    };
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lock, null, 2));
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, project]);
  });

  it('npm --version', async () => {
    const r = await run('development', ['npm', '--version']);
    expectClean(r);
    expect(r.stderr).toMatch(/^\d+\.\d+\.\d+$/m);
  });

  it('npm ci --offline installs a project from a local cache, install scripts included', async () => {
    // (--no-update-notifier: on a fresh cache npm looks up its configured registry, a DNS query development does not allow)
    const r = await run('development', ['npm', 'ci', '--offline', '--no-update-notifier', '--no-audit', '--no-fund', '--cache', join(project, 'npm-cache')], project);
    expectClean(r);
    expect(r.stderr).toMatch(/added 2 packages/);
    const installed = join(project, 'node_modules', 'airlock-tiny-a');
    expect(readFileSync(join(installed, 'installed'), 'utf8')).toBe('ok'); // its postinstall ran (sh, then node)
    expect(execFileSync(NODE, ['-p', "require('airlock-tiny-a')"], { cwd: project, encoding: 'utf8' })).toBe('ab\n');
    expect(existsSync(join(project, 'node_modules', 'airlock-tiny-b', 'index.js'))).toBe(true);
  });
});

describe('/proc is the agent’s own', () => {
  it('shows none of the host’s processes (its pid 1 included) nor another agent’s', async () => {
    const other = startAirlock(['run', '--json', '--policy', 'development', '--workspace', fx.workspace(), '--', '/bin/sleep', '30'], fx.env);
    let otherPid = 0;
    await waitFor('the other agent', async () => {
      const listed = (await fx.airlock(['agents', '--json'])).json?.agents ?? [];
      otherPid = listed[0]?.pid ?? 0;
      return otherPid > 0;
    });
    try {
      const script = `cat /proc/1/cmdline; cat /proc/${otherPid}/cmdline; cat /proc/${process.pid}/status; echo; echo listing; ls /proc`;
      const r = await run('development', ['/bin/sh', '-c', script]);
      expect(r.json, r.stderr).toMatchObject({ endedBy: 'exit', exitCode: 0, violation: null });
      for (const pid of [1, otherPid, process.pid]) expect(r.stderr).toMatch(new RegExp(`^cat: /proc/${pid}/\\w+: No such file or directory$`, 'm'));
      expect(r.stderr).not.toContain(readFileSync('/proc/1/cmdline', 'utf8').split('\0')[0]);
      const listing = r.stderr.slice(r.stderr.indexOf('listing\n') + 8).split('\n');
      const pids = listing.filter((l) => /^\d+$/.test(l)).map(Number);
      expect(pids).toContain(2); // sh: its first process (its init, pid 1, is hidden)
      expect(pids.every((p) => p > 1 && p < 10)).toBe(true);
      expect(fx.events(r.json.agent).filter((e) => e.verdict !== 'allow')).toEqual([]);
    } finally {
      other.child.kill('SIGTERM');
      await other.done;
    }
  });
});

describe('cgroupfs is masked', () => {
  it('reads are ENOENT, writes fail by any path, and the agent stays in its cgroups', async () => {
    const ops = [
      { op: 'read', path: '/proc/self/cgroup' },
      { op: 'read', path: '/sys/fs/cgroup/memory/memory.limit_in_bytes' },
      { op: 'write', path: '/sys/fs/cgroup/unified/cgroup.procs', text: '0' },
      { op: 'write', path: '/sys/fs/cgroup/pids/cgroup.procs', text: '0' },
      { op: 'write', path: '/proc/self/root/sys/fs/cgroup/unified/cgroup.procs', text: '0' },
      { op: 'write', path: '/proc/1/root/sys/fs/cgroup/unified/cgroup.procs', text: '0' },
      { op: 'write', path: '/sys/fs/cgroup/escape', text: '0' },
      { op: 'read', path: '/proc/self/cgroup' },
      { op: 'sleep', seconds: 3 },
    ];
    const ws2 = fx.workspace();
    const agent = startAirlock(['run', '--json', '--policy', 'development', '--workspace', ws2, '--', PYTHON, 'probe.py', JSON.stringify(ops)], fx.env);
    let id = '';
    let pid = 0;
    await waitFor('the agent', async () => {
      const listed = (await fx.airlock(['agents', '--json'])).json?.agents ?? [];
      [id, pid] = [listed[0]?.id ?? '', listed[0]?.pid ?? 0];
      return pid > 0;
    });
    await new Promise((r) => setTimeout(r, 1000)); // its attempts are done: it sleeps
    const mine = agentCgroups().filter((dir) => dir.endsWith(`/${id}`));
    expect(mine.length).toBeGreaterThanOrEqual(2); // pids, memory, ..., the v2 BPF directory
    for (const dir of mine) expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim().split('\n')).toEqual([String(pid)]);
    const done: any = await agent.done;
    expect(done.json, done.stderr).toMatchObject({ endedBy: 'exit', exitCode: 0, violation: null });
    const results = (done.stderr as string).split('\n').flatMap((l) => (l.startsWith('{"op"') ? [JSON.parse(l).result] : []));
    const cgroupLines = (text: string) => text.split('\n').filter(Boolean);
    expect(cgroupLines(results[0])).toEqual(expect.arrayContaining(['0::/', expect.stringMatching(/^\d+:pids:\/$/)])); // its cgroup namespace's root
    expect(results.slice(1, 8)).toEqual(['ENOENT', 'ENOENT', 'ENOENT', 'ENOENT', 'ENOENT', 'EROFS', results[0]]);
    expect(fx.events(id).filter((e) => e.verdict !== 'allow')).toEqual([]);
  });
});
