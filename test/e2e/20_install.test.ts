/**
 * The appliance lifecycle through the real binary, as root, in a temp
 * prefix: install → status, upgrade, refused downgrades that change nothing,
 * rollback, the lifecycle lock, down/up, uninstall (var/ kept) and --purge.
 */
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFingerprint } from '../../bundle/index.js';
import { airlock, ApplianceFixture, applianceProcesses, exists, freePort, processesIn, snapshot, startAirlock, statusOf, waitFor } from '../helpers/appliance.js';

let fx: ApplianceFixture;
let port: number;
let prefix: string;
const bundles: Record<string, string> = {};

const status = (): Promise<any> => statusOf(prefix);

async function healthz(): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
  return res?.status ?? 0;
}

beforeAll(async () => {
  fx = await ApplianceFixture.create('install');
  prefix = fx.prefix;
  port = await freePort();
  const ok = [{ name: 'health', kind: 'ok' as const, port }];
  bundles.v1 = await fx.bundle({ version: '1.0.0', sequence: 1, services: ok });
  bundles.v2 = await fx.bundle({ version: '1.1.0', sequence: 2, services: ok });
  bundles.sameSeq = await fx.bundle({ version: '1.1.1', sequence: 2, services: ok });
  bundles.lower = await fx.bundle({ version: '1.0.5', sequence: 1, services: ok });
  bundles.slow = await fx.bundle({ version: '1.2.0', sequence: 3, services: [{ name: 'health', kind: 'slow', port, env: { SLOW_MS: '2500' } }] });
  bundles.v4 = await fx.bundle({ version: '1.3.0', sequence: 4, services: ok });
});

afterAll(async () => {
  await fx.cleanup();
});

describe('before anything is installed', () => {
  it('upgrade, rollback, up and status say nothing is installed (exit 20)', async () => {
    for (const args of [['upgrade', bundles.v2!], ['rollback'], ['up'], ['status']]) {
      const run = await airlock([...args, '--prefix', prefix, '--json']);
      expect(run.code, `${args[0]}: ${run.stdout}`).toBe(20);
      expect(run.json.error.code).toBe('INSTALL_NOT_INSTALLED');
      expect(run.json.error.hint).toMatch(/install/i);
    }
  });
});

describe('install → status', () => {
  it('installs, pins the trust root and the sequence, starts the service and waits for health', async () => {
    const run = await airlock(['install', bundles.v1!, '--trust', fx.trustRoot, '--prefix', prefix, '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json.release).toMatchObject({ name: 'airlock', version: '1.0.0', sequence: 1 });
    expect(run.json.health.healthy).toBe(true);
    expect(run.stderr).toBe('');
    expect(await healthz()).toBe(200);

    expect(await readlink(join(prefix, 'current'))).toBe('releases/1.0.0');
    expect(await exists(join(prefix, 'previous'))).toBe(false);
    const pinned = await readFile(join(prefix, 'etc/trust/root.crt'), 'utf8');
    expect(certificateFingerprint(pinned)).toBe(certificateFingerprint(await readFile(fx.trustRoot, 'utf8')));
    expect(JSON.parse(await readFile(join(prefix, 'var/installed-sequence.json'), 'utf8')).highWater).toBe(1);
    for (const path of ['etc/airlock.yaml', 'var/events.log', 'var/services/health', 'run/supervisor.pid', 'run/health.pid', 'log/health.log', 'log/supervisor.log']) {
      expect(await exists(join(prefix, path)), path).toBe(true);
    }
    expect(await exists(join(prefix, 'var/journal.json'))).toBe(false);
  });

  it('status shows the release, sequence, trust fingerprint, each service and the last result', async () => {
    const report = await status();
    expect(report.current).toMatchObject({ version: '1.0.0', sequence: 1 });
    expect(report.previous).toBeNull();
    expect(report.highWater).toBe(1);
    expect(report.trust).toEqual([expect.objectContaining({ fingerprint: certificateFingerprint(await readFile(fx.trustRoot, 'utf8')) })]);
    expect(report.supervisor.running).toBe(true);
    expect(report.healthy).toBe(true);
    expect(report.services).toEqual([expect.objectContaining({ name: 'health', port, healthy: true, state: 'running' })]);
    expect(report.lastChange).toMatchObject({ event: 'install', to: { version: '1.0.0' } });
    expect(report.pending).toBeNull();

    const human = await airlock(['status', '--prefix', prefix]);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain('airlock 1.0.0 (sequence 1)');
    expect(human.stderr).toMatch(/service +health \(port \d+, pid \d+\): healthy/);
  });

  it('refuses a second install (exit 20)', async () => {
    const run = await airlock(['install', bundles.v2!, '--trust', fx.trustRoot, '--prefix', prefix, '--json']);
    expect(run.code).toBe(20);
    expect(run.json.error.code).toBe('INSTALL_ALREADY_INSTALLED');
  });
});

describe('upgrade', () => {
  it('upgrades to a higher sequence: switches, restarts on the new release, keeps the old as previous', async () => {
    const run = await airlock(['upgrade', bundles.v2!, '--prefix', prefix, '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json).toMatchObject({ from: { version: '1.0.0' }, release: { version: '1.1.0', sequence: 2 } });
    const report = await status();
    expect(report.current.version).toBe('1.1.0');
    expect(report.previous.version).toBe('1.0.0');
    expect(report.highWater).toBe(2);
    expect(report.healthy).toBe(true);
    expect(report.lastChange).toMatchObject({ event: 'upgrade', from: { version: '1.0.0' }, to: { version: '1.1.0' } });
    expect(await processesIn(prefix, join(prefix, 'releases/1.1.0'))).toHaveLength(1);
    expect(await processesIn(prefix, join(prefix, 'releases/1.0.0'))).toHaveLength(0);
  });

  it.each([
    ['the same sequence', 'sameSeq', 2],
    ['a lower sequence', 'lower', 1],
  ])('refuses %s with INSTALL_DOWNGRADE and changes nothing', async (_what, key, sequence) => {
    const pidBefore = (await status()).services[0].pid;
    const before = await snapshot(prefix);
    const run = await airlock(['upgrade', bundles[key]!, '--prefix', prefix, '--json']);
    expect(run.code).toBe(21);
    expect(run.json.error).toMatchObject({ code: 'INSTALL_DOWNGRADE', details: { sequence, highWater: 2 } });
    expect(run.json.error.hint).toMatch(/rollback/);
    expect(await snapshot(prefix)).toEqual(before);
    const report = await status();
    expect(report.healthy).toBe(true);
    expect(report.services[0].pid).toBe(pidBefore);
  });
});

describe('rollback', () => {
  it('goes back to the previous release, records it, and keeps the high-water mark', async () => {
    const run = await airlock(['rollback', '--prefix', prefix, '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json).toMatchObject({ from: { version: '1.1.0' }, to: { version: '1.0.0' } });
    const report = await status();
    expect(report.current.version).toBe('1.0.0');
    expect(report.previous.version).toBe('1.1.0');
    expect(report.highWater).toBe(2);
    expect(report.healthy).toBe(true);
    expect(report.lastChange).toMatchObject({ event: 'rollback', from: { version: '1.1.0' }, to: { version: '1.0.0' } });
    expect(await processesIn(prefix, join(prefix, 'releases/1.0.0'))).toHaveLength(1);
    const events = (await readFile(join(prefix, 'var/events.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).event);
    expect(events).toEqual(['install', 'upgrade', 'rollback']);
  });

  it('an old bundle still cannot come back after a rollback', async () => {
    const run = await airlock(['upgrade', bundles.sameSeq!, '--prefix', prefix, '--json']);
    expect(run.json.error.code).toBe('INSTALL_DOWNGRADE');
  });
});

describe('the lifecycle lock', () => {
  it('refuses a second lifecycle command while one runs (exit 24), naming the holder', async () => {
    const slow = startAirlock(['upgrade', bundles.slow!, '--prefix', prefix, '--json']);
    await waitFor('the upgrade to take the lock', async () => ((await exists(join(prefix, 'var/journal.json'))) ? true : undefined));
    const blocked = await airlock(['rollback', '--prefix', prefix, '--json']);
    expect(blocked.code).toBe(24);
    expect(blocked.json.error.code).toBe('INSTALL_LOCKED');
    expect(blocked.json.error.details.holder).toMatchObject({ command: 'upgrade', pid: slow.child.pid });
    const upgraded = await slow.done;
    expect(upgraded.code, upgraded.stdout).toBe(0);
    expect((await status()).current.version).toBe('1.2.0');
  });
});

describe('down and up', () => {
  it('down stops everything: no process of the appliance is left', async () => {
    expect((await applianceProcesses(prefix)).length).toBeGreaterThanOrEqual(2);
    const run = await airlock(['down', '--prefix', prefix, '--json']);
    expect(run.code, run.stdout).toBe(0);
    expect(run.json).toMatchObject({ wasRunning: true, killed: [] });
    expect(await applianceProcesses(prefix)).toEqual([]);
    expect(await healthz()).toBe(0);
    const report = await status();
    expect(report.supervisor.running).toBe(false);
    expect(report.services[0]).toMatchObject({ healthy: false, reason: 'the supervisor is not running' });
  });

  it('up starts it again; a second up finds it running', async () => {
    const first = await airlock(['up', '--prefix', prefix, '--json']);
    expect(first.code, first.stdout).toBe(0);
    expect(first.json).toMatchObject({ version: '1.2.0', started: true, health: { healthy: true } });
    const second = await airlock(['up', '--prefix', prefix, '--json']);
    expect(second.json).toMatchObject({ started: false, health: { healthy: true } });
    expect(await healthz()).toBe(200);
  });
});

describe('uninstall', () => {
  it('stops and removes the appliance but keeps var/', async () => {
    const run = await airlock(['uninstall', '--prefix', prefix, '--json']);
    expect(run.code, run.stdout).toBe(0);
    expect(run.json.removed).toEqual(['current', 'previous', 'releases', 'etc', 'log', 'run'].map((p) => join(prefix, p)));
    expect(run.json.kept).toEqual([join(prefix, 'var')]);
    expect(await applianceProcesses(prefix)).toEqual([]);
    for (const gone of ['current', 'previous', 'releases', 'etc', 'run', 'log']) expect(await exists(join(prefix, gone)), gone).toBe(false);
    expect(await exists(join(prefix, 'var/services/health'))).toBe(true);
    const events = (await readFile(join(prefix, 'var/events.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).event);
    expect(events.at(-1)).toBe('uninstall');
    expect((await airlock(['status', '--prefix', prefix, '--json'])).json.error.code).toBe('INSTALL_NOT_INSTALLED');
  });

  it('the kept high-water mark refuses reinstalling an older bundle (exit 21), changing nothing', async () => {
    const before = await snapshot(prefix);
    const run = await airlock(['install', bundles.v1!, '--trust', fx.trustRoot, '--prefix', prefix, '--json']);
    expect(run.code, run.stdout).toBe(21);
    expect(run.json.error.code).toBe('INSTALL_DOWNGRADE');
    // run/ holds only the lock's runtime state; everything persistent is unchanged.
    const { run: _lockDir, ...after } = await snapshot(prefix);
    expect(after).toEqual(before);
  });

  it('a new install of a newer bundle reuses the kept var/', async () => {
    const run = await airlock(['install', bundles.v4!, '--trust', fx.trustRoot, '--prefix', prefix, '--json']);
    expect(run.code, run.stdout).toBe(0);
    const events = (await readFile(join(prefix, 'var/events.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).event);
    expect(events).toEqual(['install', 'upgrade', 'rollback', 'upgrade', 'uninstall', 'install']);
  });

  it('--purge removes var/ and the prefix itself', async () => {
    const run = await airlock(['uninstall', '--purge', '--prefix', prefix, '--json']);
    expect(run.code, run.stdout).toBe(0);
    expect(await exists(prefix)).toBe(false);
    expect(await applianceProcesses(prefix)).toEqual([]);
  });
});
