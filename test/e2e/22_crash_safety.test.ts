/**
 * Crash safety: `airlock upgrade` (and rollback, and recovery itself) is
 * SIGKILLed at 29 different points — after every journal step, between the
 * temp write and the rename of records and links, in the middle of stopping
 * and starting, inside the commit and the undo, and at timed offsets while a
 * large bundle is being extracted. After `airlock up` the appliance must be
 * healthy on the old release (killed before the health check passed) or the
 * new one (killed after), with no staging debris, no stray release and no
 * process of the wrong release.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airlock, ApplianceFixture, applianceProcesses, debris, freePort, startAirlock, statusOf, waitFor } from '../helpers/appliance.js';

let fx: ApplianceFixture;
let prefix: string;
let port: number;
let sequence = 1;
/** What the appliance runs now, as the last check saw it. */
let state: { current: string; previous?: string } = { current: '1.0.1' };
/** A bundle whose service never becomes healthy: every upgrade to it is undone, so it is reused. */
let unhealthy: string;
/** A 128 MiB bundle, for kills during extraction; reused likewise. */
let large: string;

const status = (): Promise<any> => statusOf(prefix);

async function nextBundle(): Promise<{ file: string; version: string }> {
  sequence += 1;
  const version = `1.0.${sequence}`;
  return { file: await fx.bundle({ version, sequence, services: [{ name: 'health', kind: 'ok', port }] }), version };
}

/** `airlock up`, then everything the crash could have broken, checked from the outside. */
async function expectRecoveredTo(version: string): Promise<any> {
  const up = await airlock(['up', '--prefix', prefix, '--json']);
  expect(up.code, up.stdout + up.stderr).toBe(0);
  const report = await status();
  expect(report.current.version).toBe(version);
  expect(report.healthy).toBe(true);
  expect(report.pending).toBeNull();
  expect(await debris(prefix)).toEqual([]);
  const kept = [report.current.version, report.previous?.version].filter(Boolean).sort();
  expect((await readdir(join(prefix, 'releases'))).sort()).toEqual(kept);
  expect((await readdir(join(prefix, 'etc/releases'))).sort()).toEqual(kept.map((v) => `${v}.json`));
  expect(await readdir(join(prefix, 'var'))).not.toContain('journal.json');
  // Every service process runs the current release; nothing of another one survived.
  const currentDir = await realpath(join(prefix, 'releases', version));
  const services = (await applianceProcesses(prefix)).filter((p) => p.cwd.startsWith(join(prefix, 'releases')));
  expect(services.map((p) => p.cwd)).toEqual([currentDir]);
  // A replayed commit or undo never logs the same event twice.
  const events = (await readFile(join(prefix, 'var/events.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const keys = events.filter((e) => e.journal).map((e) => `${e.journal}/${e.event}`);
  expect(new Set(keys).size).toBe(keys.length);
  state = { current: report.current.version, ...(report.previous ? { previous: report.previous.version } : {}) };
  return report;
}

async function crashedRun(args: string[], point: string): Promise<void> {
  const run = await airlock([...args, '--prefix', prefix, '--json'], { AIRLOCK_TEST_CRASH_AT: point });
  // Killed there, so the point exists and was reached.
  expect(run.signal, `${point}: ${run.stdout}${run.stderr}`).toBe('SIGKILL');
}

beforeAll(async () => {
  fx = await ApplianceFixture.create('crash');
  prefix = fx.prefix;
  port = await freePort();
  const first = await fx.bundle({ version: '1.0.1', sequence: 1, services: [{ name: 'health', kind: 'ok', port }] });
  unhealthy = await fx.bundle({ version: '9.0.0', sequence: 1_000, services: [{ name: 'health', kind: 'unhealthy', port }] });
  large = await fx.bundle({ version: '8.0.0', sequence: 999, services: [{ name: 'health', kind: 'ok', port }], padBytes: 128 << 20 });
  const run = await airlock(['install', first, '--trust', fx.trustRoot, '--prefix', prefix, '--json']);
  expect(run.code, run.stdout).toBe(0);
});

afterAll(async () => {
  await fx.cleanup();
});

describe('killed during a successful upgrade', () => {
  // Counting this process's atomic writes: #1 lock holder, #2 journal intent, #3 release record,
  // #4-#9 journal extracted..healthy, #10 sequence record.
  it.each([
    ['upgrade:intent', 'old'],
    ['atomic-write:before-rename#2', 'old'],
    ['extract:header', 'old'],
    ['atomic-write:before-rename#3', 'old'],
    ['upgrade:extracted', 'old'],
    ['upgrade:migrated', 'old'],
    ['stop:signalled', 'old'],
    ['upgrade:stopped', 'old'],
    ['symlink:before-rename#1', 'old'],
    ['symlink:before-rename#2', 'old'],
    ['atomic-write:before-rename#7', 'old'],
    ['upgrade:switched', 'old'],
    ['start:spawned', 'old'],
    ['upgrade:started', 'old'],
    ['upgrade:healthy', 'new'],
    ['atomic-write:before-rename#10', 'new'],
    ['commit:high-water', 'new'],
    ['event:recorded', 'new'],
    ['commit:journal-cleared', 'new'],
  ] as const)('at %s, up recovers to the %s release', async (point, expected) => {
    const old = state.current;
    const next = await nextBundle();
    await crashedRun(['upgrade', next.file], point);
    await expectRecoveredTo(expected === 'old' ? old : next.version);
  });
});

describe('killed while undoing a failed upgrade', () => {
  it.each(['upgrade:failure', 'undo:stopped', 'undo:switched', 'event:recorded', 'undo:journal-cleared'])(
    'at %s, up finishes the rollback',
    async (point) => {
      const old = state.current;
      await crashedRun(['upgrade', unhealthy, '--health-timeout', '1'], point);
      const report = await expectRecoveredTo(old);
      expect(report.lastChange.failure.reason).toMatch(/answered 503/);
    },
  );
});

describe('killed during a rollback', () => {
  it.each([
    ['rollback:switched', 'current'],
    ['rollback:healthy', 'previous'],
  ] as const)('at %s, up recovers to the %s release', async (point, expected) => {
    const before = { ...state };
    expect(before.previous).toBeDefined();
    await crashedRun(['rollback'], point);
    await expectRecoveredTo(before[expected]!);
  });
});

describe('killed during recovery itself', () => {
  it('an interrupted undo is finished by the next up', async () => {
    const old = state.current;
    await crashedRun(['upgrade', (await nextBundle()).file], 'upgrade:switched');
    await crashedRun(['up'], 'undo:switched');
    await expectRecoveredTo(old);
  });
});

describe('killed at timed offsets while a 128 MiB bundle is extracted', () => {
  it.each([0, 15, 40, 80])('%i ms into the extraction, nothing of it is left after up', async (delay) => {
    const old = state.current;
    const releases = join(prefix, 'releases');
    const { child, done } = startAirlock(['upgrade', large, '--prefix', prefix, '--json']);
    await waitFor('the staging folder', async () => (await readdir(releases)).find((name) => name.startsWith('.')), 20_000, 1);
    await sleep(delay);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    // The kill landed inside the extraction: its staging folder is still there.
    expect((await debris(prefix)).some((path) => path.startsWith('releases/.8.0.0.staging-'))).toBe(true);
    await expectRecoveredTo(old);
  });
});
