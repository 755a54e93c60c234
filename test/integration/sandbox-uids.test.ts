/**
 * The agent's own uid (root, real kernel, the launcher through launchAgent,
 * each test with a pool and lock folder of its own): the lowest free uid of
 * the pool, never one /etc/passwd or /etc/group gives out, held while the
 * agent lives and free again when it ends (however its launcher ends); its
 * workspace is its own while it runs and the resting owner's (nobody) again
 * after, with everything it made there and in its other write paths; a
 * workspace serves one running agent at a time.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchAgent, LAUNCHER_EXIT, type LaunchFacts } from '../../services/enforcer/launch.js';
import type { UidPool } from '../../services/enforcer/uid-pool.js';
import { finish, makeFixture, NOBODY, policy, type Fixture } from './sandbox-helpers.js';

let fx: Fixture;
let pools = 0;
let dirs = 0;

beforeAll(() => {
  fx = makeFixture('/var/tmp');
});
afterAll(() => fx?.cleanup());

/** A pool of its own: a range no other test (nor airlock run) uses, a lock folder of its own. */
function pool(count = 4, first = 2_000_200_000 + 100 * pools): UidPool {
  return { first, count, dir: join(fx.root, `uids-${pools++}`) };
}

/** A workspace of nobody's with a file of nobody's in it. */
function workspace(): string {
  const dir = join(fx.root, `ws-${dirs++}`);
  mkdirSync(dir, { mode: 0o755 });
  writeFileSync(join(dir, 'in.txt'), 'input\n', { mode: 0o644 });
  for (const p of [dir, join(dir, 'in.txt')]) chownSync(p, NOBODY, NOBODY);
  return dir;
}

const SHELL = { execution: { spawn: true, exec: true } } as const;

async function start(ws: string, script: string, facts: Partial<LaunchFacts>, write: string[] = []) {
  const pol = policy({ workspace: ws }, { ...SHELL, filesystem: { write: [ws, '/tmp', ...write] } });
  return launchAgent(pol, { workspace: ws, command: ['/bin/sh', '-c', script], privateTmp: '/tmp', ...facts }, { stdio: ['ignore', 'pipe', 'pipe'] });
}

const owner = (path: string) => `${statSync(path).uid}:${statSync(path).gid}`;

describe('the agent’s own uid', () => {
  it('is the pool’s lowest free one (gid the same), owns its workspace and private /tmp while it runs, and hands them back', async () => {
    const p = pool();
    const ws = workspace();
    const agent = await start(ws, 'id -u; id -g; id -G; stat -c %u:%g . in.txt /tmp; echo made > out.txt; mkdir d; echo x > d/y', { uidPool: p });
    expect([agent.uid, agent.gid]).toEqual([p.first, p.first]);
    const r = await finish(agent);
    expect(r.code, r.stderr).toBe(0);
    const u = p.first;
    expect(r.stdout.trim().split('\n')).toEqual([`${u}`, `${u}`, `${u}`, `${u}:${u}`, `${u}:${u}`, `${u}:${u}`]);
    for (const path of [ws, 'in.txt', 'out.txt', 'd', 'd/y'].map((f) => (f === ws ? ws : join(ws, f)))) expect(owner(path), path).toBe(`${NOBODY}:${NOBODY}`);
    expect(readdirSync(p.dir)).toEqual([]); // released: its lock file removed
  });

  it('is another one for each agent running at the same time, locked in the pool folder while it runs', async () => {
    const p = pool();
    const agents = await Promise.all([workspace(), workspace(), workspace()].map((ws) => start(ws, 'sleep 0.3', { uidPool: p })));
    expect(new Set(agents.map((a) => a.uid)).size).toBe(3);
    expect(agents.map((a) => a.uid).every((u) => u >= p.first && u < p.first + p.count)).toBe(true);
    expect(readdirSync(p.dir).sort()).toEqual(agents.map((a) => String(a.uid)).sort());
    await Promise.all(agents.map((a) => finish(a)));
    expect(readdirSync(p.dir)).toEqual([]);
  });

  it('is refused when the pool has none left (exit 124, nothing ran)', async () => {
    const p = pool(1);
    const first = await start(workspace(), 'sleep 0.3', { uidPool: p });
    await expect(start(workspace(), 'true', { uidPool: p })).rejects.toMatchObject({ code: 'ENFORCER_LAUNCH_FAILED', details: { exitCode: LAUNCHER_EXIT.IDS, stage: 'uids' } });
    await finish(first);
  });

  it('is never one /etc/passwd or /etc/group gives out', async () => {
    const taken = new Set(
      ['/etc/passwd', '/etc/group'].flatMap((f) => readFileSync(f, 'utf8').split('\n').flatMap((l) => l.split(':').slice(2, f === '/etc/passwd' ? 4 : 3).map(Number))),
    );
    const first = [...taken].find((id) => id > 1000 && id < 0xfffffff0)!; // nobody, at least
    const p = pool(64, first);
    const agent = await start(workspace(), 'true', { uidPool: p });
    expect(taken.has(agent.uid)).toBe(false);
    expect(agent.uid).toBeGreaterThan(first);
    await finish(agent);
  });

  it('serves one workspace to one running agent: a second one there is refused (exit 124), the first runs on', async () => {
    const p = pool();
    const ws = workspace();
    const first = await start(ws, 'sleep 0.3; echo still', { uidPool: p });
    await expect(start(ws, 'true', { uidPool: p })).rejects.toMatchObject({ details: { exitCode: LAUNCHER_EXIT.IDS, stage: 'owner', reason: expect.stringContaining('another running agent') } });
    const r = await finish(first);
    expect(r.stdout).toBe('still\n');
  });

  it('lends a workspace given through a symlink (its target) and hands it back', async () => {
    const p = pool();
    const ws = workspace();
    const link = `${ws}-link`;
    symlinkSync(ws, link);
    const r = await finish(await start(link, 'stat -c %u in.txt; echo made > out.txt', { uidPool: p }));
    expect(r.stdout.trim()).toBe(String(p.first));
    for (const f of ['in.txt', 'out.txt']) expect(owner(join(ws, f))).toBe(`${NOBODY}:${NOBODY}`);
  });

  it('hands back what the agent made in its other write paths', async () => {
    const p = pool();
    const shared = join(fx.root, `shared-${dirs++}`);
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const r = await finish(await start(workspace(), `echo x > ${shared}/made; stat -c %u ${shared}/made`, { uidPool: p }, [shared]));
    expect(r.stdout.trim()).toBe(String(p.first));
    expect(owner(join(shared, 'made'))).toBe(`${NOBODY}:${NOBODY}`);
  });

  it('is free again when its launcher is killed; the next holder first hands back what the dead one left', async () => {
    const p = pool();
    const ws = workspace();
    const dead = await start(ws, 'echo x > left; sleep 30', { uidPool: p });
    await dead.release();
    for (let i = 0; i < 100 && !existsSync(join(ws, 'left')); i++) await new Promise((r) => setTimeout(r, 20));
    dead.child.kill('SIGKILL');
    await dead.exited;
    expect(owner(join(ws, 'left'))).toBe(`${p.first}:${p.first}`); // left behind ...
    const next = await start(workspace(), 'true', { uidPool: p });
    expect(next.uid).toBe(p.first); // ... the same uid, free again ...
    expect(owner(join(ws, 'left'))).toBe(`${NOBODY}:${NOBODY}`); // ... handed back before its next agent ran
    await finish(next);
  });

  it('will not keep its locks in a folder others can write', async () => {
    const p = pool();
    mkdirSync(p.dir, { mode: 0o777 });
    chmodSync(p.dir, 0o777);
    await expect(start(workspace(), 'true', { uidPool: p })).rejects.toMatchObject({ details: { exitCode: LAUNCHER_EXIT.IDS, stage: 'uids' } });
  });
});
