/**
 * The supervisor: restarts a service that dies (with backoff, new pid file),
 * leaves no orphan after `down` even when a service left a child that ignores
 * SIGTERM and a daemon that escaped into its own session, runs in the
 * foreground until SIGTERM, and the systemd unit it generates really runs the
 * appliance when executed the way systemd executes it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layout } from '../../installer/layout.js';
import { renderUnit } from '../../installer/supervisor/systemd.js';
import { AIRLOCK_BIN } from '../helpers/run-airlock.js';
import { airlock, applianceProcesses, ApplianceFixture, freePort, startAirlock, waitFor } from '../helpers/appliance.js';
import { spawn } from 'node:child_process';

let fx: ApplianceFixture;
let prefix: string;
let bundle: string;

async function status(at = prefix): Promise<any> {
  const run = await airlock(['status', '--prefix', at, '--json']);
  expect(run.code, run.stderr).toBe(0);
  return run.json;
}

function alive(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then(
    (stat) => !/^\S+ \(.*\) [ZX]/.test(stat),
    () => false,
  );
}

async function waitHealthy(at = prefix): Promise<any> {
  return waitFor('the appliance to be healthy', async () => {
    const run = await airlock(['status', '--prefix', at, '--json']);
    return run.json?.healthy ? run.json : undefined;
  }, 20_000);
}

beforeAll(async () => {
  fx = await ApplianceFixture.create('supervisor');
  prefix = fx.prefix;
  bundle = await fx.bundle({
    version: '1.0.0',
    sequence: 1,
    services: [
      { name: 'health', kind: 'ok', port: await freePort() },
      { name: 'forker', kind: 'forker', port: await freePort() },
    ],
  });
  const run = await airlock(['install', bundle, '--trust', fx.trustRoot, '--prefix', prefix, '--json']);
  expect(run.code, run.stdout).toBe(0);
});

afterAll(async () => {
  await fx.cleanup();
});

describe('restarts', () => {
  it('a service killed from outside is restarted with a new pid file and counted', async () => {
    const before = (await status()).services.find((s: { name: string }) => s.name === 'health');
    process.kill(before.pid, 'SIGKILL');
    const after = await waitFor('health to be restarted', async () => {
      const report = await status();
      const health = report.services.find((s: { name: string }) => s.name === 'health');
      return health.healthy && health.pid !== before.pid ? health : undefined;
    });
    expect(after.restarts).toBe(before.restarts + 1);
    expect(JSON.parse(await readFile(join(prefix, 'run/health.pid'), 'utf8')).pid).toBe(after.pid);
    expect(await readFile(join(prefix, 'log/supervisor.log'), 'utf8')).toContain('health exited (SIGKILL)');
  });
});

describe('down', () => {
  it('leaves no process behind: not the SIGTERM-ignoring child, not the escaped daemon', async () => {
    const { child, daemon } = JSON.parse(await readFile(join(prefix, 'var/services/forker/pids.json'), 'utf8'));
    expect(await alive(child)).toBe(true);
    expect(await alive(daemon)).toBe(true);
    const run = await airlock(['down', '--prefix', prefix, '--json']);
    expect(run.code, run.stdout).toBe(0);
    expect(await alive(child)).toBe(false);
    expect(await alive(daemon)).toBe(false);
    expect(await applianceProcesses(prefix)).toEqual([]);
    expect(await readFile(join(prefix, 'log/supervisor.log'), 'utf8')).toContain(`killing stray process ${daemon}`);
  });

  it('after a supervisor is SIGKILLed, down still finds and stops its services', async () => {
    expect((await airlock(['up', '--prefix', prefix])).code).toBe(0);
    const report = await status();
    process.kill(report.supervisor.pid, 'SIGKILL');
    const orphans = report.services.map((s: { pid: number }) => s.pid);
    for (const pid of orphans) expect(await alive(pid)).toBe(true);
    const run = await airlock(['down', '--prefix', prefix, '--json']);
    expect(run.code, run.stdout).toBe(0);
    expect(run.json.wasRunning).toBe(false);
    expect(run.json.killed).toEqual(expect.arrayContaining(orphans));
    expect(await applianceProcesses(prefix)).toEqual([]);
  });
});

describe('up --foreground', () => {
  it('supervises in this process until SIGTERM, then stops everything and exits 0', async () => {
    const { child, done } = startAirlock(['up', '--foreground', '--prefix', prefix]);
    const report = await waitHealthy();
    expect(report.supervisor.pid).toBe(child.pid);
    child.kill('SIGTERM');
    const run = await done;
    expect(run.code, run.stderr).toBe(0);
    expect(await applianceProcesses(prefix)).toEqual([]);
  });
});

/** Splits an ExecStart= line into words and undoes its quoting, as systemd.syntax(7) reads it. */
function execWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const raw = match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!;
    words.push(raw.replaceAll('$$', '$').replaceAll('%%', '%'));
  }
  return words;
}

describe('the systemd unit (this host has no systemd: the unit is checked and run by hand)', () => {
  it('names the unit after the prefix', () => {
    expect(new Layout('/opt/airlock').systemdUnitName).toBe('airlock.service');
    expect(new Layout('/srv/other').systemdUnitName).toMatch(/^airlock-[0-9a-f]{16}\.service$/);
    expect(new Layout('/srv/other').systemdUnit).toBe(`/etc/systemd/system/${new Layout('/srv/other').systemdUnitName}`);
  });

  it('runs `airlock up --foreground` under control-group kill, and does run the appliance', async () => {
    // A prefix with a space and systemd specifier and variable characters in it.
    const odd = join(fx.work, 'odd prefix %i $HOME');
    const install = await airlock(['install', bundle, '--trust', fx.trustRoot, '--prefix', odd, '--no-start', '--json']);
    expect(install.code, install.stdout).toBe(0);
    const unit = renderUnit(new Layout(odd), { node: process.execPath, bin: AIRLOCK_BIN });
    const lines = unit.split('\n');
    expect(lines).toEqual(expect.arrayContaining(['[Unit]', '[Service]', '[Install]', 'Type=simple', 'KillMode=control-group', 'KillSignal=SIGTERM', 'Restart=on-failure', 'WantedBy=multi-user.target', 'WorkingDirectory=/']));
    expect(lines).toContain(`RequiresMountsFor=${odd}`);
    const execStart = lines.find((l) => l.startsWith('ExecStart='))!.slice('ExecStart='.length);
    expect(execStart).toContain('"');
    expect(execWords(execStart)).toEqual([process.execPath, AIRLOCK_BIN, 'up', '--foreground', '--prefix', odd]);
    const env = Object.fromEntries(
      lines
        .filter((l) => l.startsWith('Environment='))
        .map((l) => execWords(l.slice('Environment='.length))[0]!.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
    expect(env.AIRLOCK_APPLIANCE).toBe(odd);

    // Execute it the way systemd would: that command line, that environment, that directory; stop with KillSignal.
    const [program, ...args] = execWords(execStart);
    const main = spawn(program!, args, { env, cwd: '/', stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => main.on('exit', resolve));
    try {
      const report = await waitHealthy(odd);
      expect(report.supervisor.pid).toBe(main.pid);
      expect(report.services.map((s: { name: string }) => s.name)).toEqual(['health', 'forker']);
    } finally {
      main.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(await applianceProcesses(odd)).toEqual([]);
    expect((await airlock(['uninstall', '--purge', '--prefix', odd])).code).toBe(0);
  });
});
