/**
 * Hosts where systemd is PID 1 run the supervisor from a unit instead of
 * detaching it: `airlock up --foreground` as the unit's main process, so
 * systemd restarts it, collects its logs and, with KillMode=control-group,
 * kills every process of the appliance on stop.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { writeFileAtomic, removeDurably } from '../durable.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import { SYSTEMD_RUNTIME_DIR, type Layout } from '../layout.js';
import { supervisorArgv, supervisorEnv, type Runtime } from './manager.js';

const run = promisify(execFile);

export function systemdIsInit(): boolean {
  return existsSync(SYSTEMD_RUNTIME_DIR);
}

/**
 * Quotes one word per systemd.syntax(7): `%` starts a specifier everywhere;
 * `$` expands variables in ExecStart= only.
 */
function quoteWord(word: string, where: 'exec' | 'environment'): string {
  const escaped = word.replaceAll('%', '%%');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  const quoted = escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
  return `"${where === 'exec' ? quoted.replaceAll('$', '$$$$') : quoted}"`;
}

export function renderUnit(layout: Layout, runtime: Runtime): string {
  const env = supervisorEnv(layout);
  return [
    '# Written by `airlock install`; `airlock uninstall` removes it. Do not edit: reinstall instead.',
    '[Unit]',
    `Description=Airlock appliance (${layout.prefix})`,
    'Documentation=man:airlock(1)',
    'After=local-fs.target',
    `RequiresMountsFor=${layout.prefix}`,
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${supervisorArgv(layout, runtime, 'up --foreground').map((word) => quoteWord(word, 'exec')).join(' ')}`,
    ...Object.entries(env).map(([key, value]) => `Environment=${quoteWord(`${key}=${value}`, 'environment')}`),
    'WorkingDirectory=/',
    // SIGTERM to the supervisor stops each service's process group; then systemd kills what is left.
    'KillMode=control-group',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=30',
    'Restart=on-failure',
    'RestartSec=2',
    'UMask=0027',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

async function systemctl(...args: string[]): Promise<void> {
  try {
    await run('systemctl', args);
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr?.trim();
    throw new InstallError(InstallErrorCodes.START_FAILED, `systemctl ${args.join(' ')} failed${stderr ? `: ${stderr}` : ''}`, {
      cause,
      hint: 'See `systemctl status` and `journalctl -u` for the unit.',
    });
  }
}

/** Writes the unit and enables it at boot. */
export async function installUnit(layout: Layout, runtime: Runtime): Promise<void> {
  await writeFileAtomic(layout.systemdUnit, renderUnit(layout, runtime));
  await systemctl('daemon-reload');
  await systemctl('enable', layout.systemdUnitName);
}

export async function removeUnit(layout: Layout): Promise<void> {
  if (!existsSync(layout.systemdUnit)) return;
  await systemctl('disable', layout.systemdUnitName);
  await removeDurably(layout.systemdUnit);
  await systemctl('daemon-reload');
}

export async function startUnit(layout: Layout): Promise<void> {
  await systemctl('start', layout.systemdUnitName);
}

export async function stopUnit(layout: Layout): Promise<void> {
  if (existsSync(layout.systemdUnit)) await systemctl('stop', layout.systemdUnitName);
}
