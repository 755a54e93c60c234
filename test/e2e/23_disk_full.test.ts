/**
 * A full disk, on a real small file system: the prefix is a 40 MiB tmpfs.
 * A bundle whose declared size does not fit is refused up front and nothing
 * changes; a bundle that passes that check but meets a disk another process
 * fills while it is being extracted fails with BUNDLE_DISK_FULL — and in
 * every case the running release is untouched and keeps serving.
 */
import { execFile } from 'node:child_process';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airlock, ApplianceFixture, debris, freePort, snapshot, startAirlock, waitFor, type Run } from '../helpers/appliance.js';

const run = promisify(execFile);
const TMPFS_BYTES = 40 << 20;

let fx: ApplianceFixture;
let prefix: string;
let port: number;
let mounted = false;

async function servicePid(): Promise<number> {
  const status = await airlock(['status', '--prefix', prefix, '--json']);
  expect(status.json.healthy, status.stdout).toBe(true);
  return status.json.services[0].pid;
}

/** Writes zeros until the file system has no block left, then gives back `spare` bytes. */
async function fillUp(path: string, spare: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (const size of [1 << 20, 4096]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          await handle.write(chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
    if (spare > 0) await handle.truncate((await handle.stat()).size - spare);
  } finally {
    await handle.close();
  }
}

/**
 * Runs `upgrade`, which passes the free-space check and stops itself right
 * after it; meanwhile another process fills the disk up to `spare` bytes.
 */
async function upgradeIntoFillingDisk(bundle: string, spare: number): Promise<Run> {
  const { child, done } = startAirlock(['upgrade', bundle, '--prefix', prefix, '--json'], { AIRLOCK_TEST_STOP_AT: 'extract:header' });
  await waitFor('the upgrade to stop after the free-space check', async () => {
    const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8').catch(() => '');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T' ? true : undefined;
  });
  const filler = join(prefix, 'var', 'filler');
  try {
    await fillUp(filler, spare);
    child.kill('SIGCONT');
    return await done;
  } finally {
    child.kill('SIGCONT');
    await rm(filler, { force: true });
  }
}

beforeAll(async () => {
  fx = await ApplianceFixture.create('disk');
  prefix = fx.prefix;
  port = await freePort();
  await mkdir(prefix);
  await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES},mode=0755`, 'airlock-e2e-disk', prefix]);
  mounted = true;
  const v1 = await fx.bundle({ version: '1.0.0', sequence: 1, services: [{ name: 'health', kind: 'ok', port }] });
  const install = await airlock(['install', v1, '--trust', fx.trustRoot, '--prefix', prefix, '--json']);
  expect(install.code, install.stdout).toBe(0);
});

afterAll(async () => {
  await airlock(['down', '--prefix', prefix]);
  if (mounted) await run('umount', [prefix]).catch(() => run('umount', ['-l', prefix]));
  await fx.cleanup();
});

describe('the up-front free-space check', () => {
  it('refuses a bundle whose declared payload does not fit, before touching anything (exit 4)', async () => {
    const big = await fx.bundle({ version: '2.0.0', sequence: 2, services: [{ name: 'health', kind: 'ok', port }], padBytes: 48 << 20 });
    const pid = await servicePid();
    const before = await snapshot(prefix);
    const upgrade = await airlock(['upgrade', big, '--prefix', prefix, '--json']);
    expect(upgrade.code, upgrade.stdout).toBe(4);
    expect(upgrade.json.error.code).toBe('BUNDLE_DISK_SPACE');
    expect(upgrade.json.error.message).toMatch(/needs \d+ bytes at .*releases, only \d+ are free/);
    expect(upgrade.json.error.details.needed).toBeGreaterThan(upgrade.json.error.details.free);
    expect(await snapshot(prefix)).toEqual(before);
    expect(await servicePid()).toBe(pid);
  });
});

describe('the disk filling up during extraction', () => {
  let bundle: string;

  it('with a little room left for the undo: BUNDLE_DISK_FULL, undone at once, nothing pending (exit 4)', async () => {
    const tight = await fx.bundle({ version: '2.5.0', sequence: 2, services: [{ name: 'health', kind: 'ok', port }], padBytes: 16 << 20 });
    const pid = await servicePid();
    const running = await snapshot(join(prefix, 'releases/1.0.0'));
    const upgrade = await upgradeIntoFillingDisk(tight, 256 << 10);
    expect(upgrade.code, upgrade.stdout).toBe(4);
    expect(upgrade.json.error.code).toBe('BUNDLE_DISK_FULL');
    expect(upgrade.json.error.message).toMatch(/the disk filled up while extracting/);
    expect(upgrade.json.error.message).not.toMatch(/undoing/);
    const status = await airlock(['status', '--prefix', prefix, '--json']);
    expect(status.json.pending).toBeNull();
    expect(status.json.lastChange).toMatchObject({ event: 'upgrade-failed', failure: { reason: expect.stringContaining('BUNDLE_DISK_FULL') } });
    expect(await debris(prefix)).toEqual([]);
    expect(await readdir(join(prefix, 'releases'))).toEqual(['1.0.0']);
    expect(await snapshot(join(prefix, 'releases/1.0.0'))).toEqual(running);
    expect(await servicePid()).toBe(pid);
  });

  it('with not one block left: BUNDLE_DISK_FULL, the running release untouched, the undo left to up (exit 4)', async () => {
    bundle = await fx.bundle({ version: '3.0.0', sequence: 3, services: [{ name: 'health', kind: 'ok', port }], padBytes: 16 << 20 });
    const pid = await servicePid();
    const running = await snapshot(join(prefix, 'releases/1.0.0'));
    const upgrade = await upgradeIntoFillingDisk(bundle, 0);
    expect(upgrade.code, upgrade.stdout).toBe(4);
    expect(upgrade.json.error.code).toBe('BUNDLE_DISK_FULL');
    expect(upgrade.json.error.message).toMatch(/the disk filled up while extracting/);
    // Not even the journal's note of the failure could be written: the error says so, and
    // status shows the interrupted upgrade for `airlock up` to undo.
    expect(upgrade.json.error.message).toMatch(/undoing the upgrade failed too: ENOSPC/);
    expect(upgrade.json.error.hint).toMatch(/airlock up/);
    const status = await airlock(['status', '--prefix', prefix, '--json']);
    expect(status.json.pending).toMatchObject({ op: 'upgrade', step: 'intent', to: '3.0.0' });
    expect(await readdir(join(prefix, 'releases'))).toEqual(['1.0.0']);
    expect(await snapshot(join(prefix, 'releases/1.0.0'))).toEqual(running);
    expect(await servicePid()).toBe(pid);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('once there is room again, up leaves a clean prefix and the same bundle installs', async () => {
    const up = await airlock(['up', '--prefix', prefix, '--json']);
    expect(up.code, up.stdout).toBe(0);
    expect(await debris(prefix)).toEqual([]);
    expect(await readdir(join(prefix, 'var'))).not.toContain('journal.json');
    const events = (await readFile(join(prefix, 'var/events.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ event: 'recovered', outcome: 'rolled-back', interrupted: { op: 'upgrade', step: 'intent' }, to: { version: '3.0.0' } });
    const upgrade = await airlock(['upgrade', bundle, '--prefix', prefix, '--json']);
    expect(upgrade.code, upgrade.stdout).toBe(0);
    expect(upgrade.json.release.version).toBe('3.0.0');
  });
});
