/**
 * Upgrades that must not stick: a service that answers its health check with
 * an error, a service that keeps crashing, a release with an invalid
 * services.yaml, and a first install that never becomes healthy. Each is
 * undone by itself, and status says which service failed and why.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airlock, ApplianceFixture, exists, freePort, processesIn, snapshot, statusOf, type ServiceFixture } from '../helpers/appliance.js';

let fx: ApplianceFixture;
let prefix: string;
let ports: [number, number];

const status = (): Promise<any> => statusOf(prefix);

async function events(root = prefix): Promise<any[]> {
  return (await readFile(join(root, 'var/events.log'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
}

function services(second: ServiceFixture['kind']): ServiceFixture[] {
  return [
    { name: 'health', kind: 'ok', port: ports[0] },
    second === 'crash' ? { name: 'worker', kind: 'crash' } : { name: 'api', kind: second, port: ports[1] },
  ];
}

beforeAll(async () => {
  fx = await ApplianceFixture.create('health');
  prefix = fx.prefix;
  ports = [await freePort(), await freePort()];
  const v1 = await fx.bundle({ version: '1.0.0', sequence: 1, services: services('ok') });
  const run = await airlock(['install', v1, '--trust', fx.trustRoot, '--prefix', prefix, '--json']);
  expect(run.code, run.stdout).toBe(0);
});

afterAll(async () => {
  await fx.cleanup();
});

describe('a service that fails its health check', () => {
  let pidsBefore: number[];

  it('is rolled back automatically: the old release runs again (exit 22)', async () => {
    pidsBefore = (await status()).services.map((s: { pid: number }) => s.pid);
    const bad = await fx.bundle({ version: '2.0.0', sequence: 2, services: services('unhealthy') });
    const run = await airlock(['upgrade', bad, '--prefix', prefix, '--health-timeout', '2', '--json']);
    expect(run.code, run.stdout).toBe(22);
    expect(run.json.error.code).toBe('INSTALL_HEALTH_FAILED');
    expect(run.json.error.message).toMatch(/2\.0\.0 did not become healthy: service api: GET http:\/\/127\.0\.0\.1:\d+\/healthz answered 503/);
    expect(run.json.error.message).toContain('rolled back to 1.0.0, which is running');
    expect(run.json.error.details).toMatchObject({ service: 'api', restoredHealthy: true, rolledBackTo: { version: '1.0.0' } });

    expect(await readlink(join(prefix, 'current'))).toBe('releases/1.0.0');
    expect(await readdir(join(prefix, 'releases'))).toEqual(['1.0.0']);
    expect(await exists(join(prefix, 'var/journal.json'))).toBe(false);
    expect(await processesIn(prefix, join(prefix, 'releases/1.0.0'))).toHaveLength(2);
  });

  it('status says which service failed and why', async () => {
    const report = await status();
    expect(report.current.version).toBe('1.0.0');
    expect(report.previous).toBeNull();
    expect(report.healthy).toBe(true);
    expect(report.highWater).toBe(1);
    expect(report.services.map((s: { pid: number }) => s.pid)).not.toEqual(pidsBefore);
    expect(report.lastChange).toMatchObject({
      event: 'upgrade-failed',
      from: { version: '1.0.0' },
      to: { version: '2.0.0' },
      failure: { service: 'api' },
    });
    expect(report.lastChange.failure.reason).toMatch(/answered 503: .*database not reachable/);
    const human = await airlock(['status', '--prefix', prefix]);
    expect(human.stderr).toMatch(/last +upgrade-failed 1\.0\.0 → 2\.0\.0 .*service api: GET .* answered 503/);
  });
});

describe('a service that keeps crashing', () => {
  it('is caught as a crash loop well before the timeout, with its exit code and last log line', async () => {
    const crashing = await fx.bundle({ version: '3.0.0', sequence: 3, services: services('crash') });
    const started = Date.now();
    const run = await airlock(['upgrade', crashing, '--prefix', prefix, '--health-timeout', '60', '--json']);
    expect(run.code, run.stdout).toBe(22);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(run.json.error.details.service).toBe('worker');
    expect(run.json.error.details.reason).toMatch(/exited with code 3 \(restarted \d+ times\); last log line: fatal: required setting FOO_URL is missing/);
    expect((await status()).lastChange).toMatchObject({ event: 'upgrade-failed', failure: { service: 'worker' } });
    expect(await readFile(join(prefix, 'log/worker.log'), 'utf8')).toContain('FOO_URL is missing');
  });

  it('a failed upgrade does not use up its sequence: the same bundle may be tried again', async () => {
    const crashing = join(fx.work, 'airlock-3.0.0.airlock');
    const run = await airlock(['upgrade', crashing, '--prefix', prefix, '--health-timeout', '60', '--json']);
    expect(run.json.error.code).toBe('INSTALL_HEALTH_FAILED');
    expect((await status()).current.version).toBe('1.0.0');
  });
});

describe('a release with an invalid services.yaml', () => {
  it('is refused after extraction, before the running release is stopped (exit 3)', async () => {
    const running = await snapshot(join(prefix, 'releases/1.0.0'));
    const pids = (await status()).services.map((s: { pid: number }) => s.pid);
    const broken = await fx.bundle({
      version: '4.0.0',
      sequence: 4,
      services: services('ok'),
      servicesYaml: 'format: airlock-services/1\nservices:\n  - name: api\n    command: [node, bin/ok.mjs]\n    restart: always\n',
    });
    const run = await airlock(['upgrade', broken, '--prefix', prefix, '--json']);
    expect(run.code, run.stdout).toBe(3);
    expect(run.json.error.code).toBe('INSTALL_SERVICES_INVALID');
    expect(run.json.error.message).toMatch(/services\.yaml is invalid: services\.0: Unrecognized key: "restart"/);
    const report = await status();
    expect(report.services.map((s: { pid: number }) => s.pid)).toEqual(pids);
    expect(await snapshot(join(prefix, 'releases/1.0.0'))).toEqual(running);
    expect(await readdir(join(prefix, 'releases'))).toEqual(['1.0.0']);
    expect((await events()).at(-1)).toMatchObject({ event: 'upgrade-failed', failure: { reason: expect.stringContaining('INSTALL_SERVICES_INVALID') } });
  });
});

describe('a first install that never becomes healthy', () => {
  it('leaves nothing installed, and says so', async () => {
    const other = join(fx.work, 'other-prefix');
    // Its own port: the appliance above still runs on the shared ones.
    const bad = await fx.bundle({ version: '1.0.0', sequence: 1, services: [{ name: 'api', kind: 'unhealthy', port: await freePort() }] });
    const run = await airlock(['install', bad, '--trust', fx.trustRoot, '--prefix', other, '--health-timeout', '2', '--json']);
    expect(run.code, run.stdout).toBe(22);
    expect(run.json.error.message).toContain('nothing was installed');
    for (const gone of ['current', 'etc/trust', 'var/installed-sequence.json', 'var/journal.json']) expect(await exists(join(other, gone)), gone).toBe(false);
    expect(await readdir(join(other, 'releases'))).toEqual([]);
    expect((await events(other)).at(-1)).toMatchObject({ event: 'install-failed', failure: { service: 'api' } });
    expect((await airlock(['status', '--prefix', other, '--json'])).json.error.code).toBe('INSTALL_NOT_INSTALLED');
  });
});
