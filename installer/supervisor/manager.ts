/**
 * Starting and stopping the appliance as a whole. Without systemd, `start`
 * launches our own supervisor detached (`airlock supervise`); with systemd as
 * PID 1, systemd runs the same supervisor from a unit (see systemd.ts).
 * Either way `stop` ends by proving that no process of the appliance is left.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { InstallError, InstallErrorCodes } from '../errors.js';
import { APPLIANCE_ENV, type Layout } from '../layout.js';
import { findMarked, isAlive, readPidFile, signalGroup, signalProcess, waitGone, type ProcessId } from './processes.js';
import { faultPoint } from '../test-hooks.js';
import { liveSupervisor } from './state.js';

/** How to run airlock itself: the supervisor is `airlock supervise`. */
export interface Runtime {
  node: string;
  bin: string;
}

export interface StopResult {
  /** A supervisor was running and was asked to stop. */
  wasRunning: boolean;
  /** Processes that did not stop with the supervisor and had to be killed. */
  killed: number[];
}

const SUPERVISOR_STOP_MS = 20_000;
const STRAY_GRACE_MS = 3_000;
const START_MS = 15_000;

export function supervisorArgv(layout: Layout, runtime: Runtime, command: 'supervise' | 'up --foreground'): string[] {
  return [runtime.node, runtime.bin, ...command.split(' '), '--prefix', layout.prefix];
}

/** The environment of the supervisor: clean, plus the marker every appliance process carries. */
export function supervisorEnv(layout: Layout): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', [APPLIANCE_ENV]: layout.prefix };
}

async function logTail(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-5).join('\n');
}

/** Launches `airlock supervise` in its own session and waits until it has taken charge. */
export async function startDetached(layout: Layout, runtime: Runtime): Promise<void> {
  await mkdir(layout.log, { recursive: true });
  const out = openSync(layout.supervisorLog, 'a', 0o640);
  const [program, ...args] = supervisorArgv(layout, runtime, 'supervise');
  let child;
  try {
    child = spawn(program!, args, { cwd: '/', env: supervisorEnv(layout), detached: true, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  child.unref();
  faultPoint('start:spawned');
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  await awaitSupervisor(layout, { pid: child.pid, exited: () => exited });
}

/**
 * Waits until a supervisor (the one with `pid`, if given) has written its pid
 * file, i.e. has claimed the prefix; fails early if `exited` reports an exit.
 */
export async function awaitSupervisor(layout: Layout, until: { pid?: number | undefined; exited?: () => number | null | undefined } = {}): Promise<void> {
  const deadline = Date.now() + START_MS;
  while (Date.now() < deadline) {
    const id = await readPidFile(layout.supervisorPid);
    if (id && (until.pid === undefined || id.pid === until.pid) && (await isAlive(id))) return;
    if (until.exited?.() !== undefined) break;
    await sleep(25);
  }
  const code = until.exited?.();
  throw new InstallError(
    InstallErrorCodes.START_FAILED,
    code !== undefined ? `the supervisor exited at once (code ${code})` : `the supervisor did not start within ${START_MS / 1000}s`,
    { hint: `See ${layout.supervisorLog}.`, details: { log: await logTail(layout.supervisorLog) } },
  );
}

async function servicePidFiles(layout: Layout): Promise<ProcessId[]> {
  const names = await readdir(layout.run).catch(() => [] as string[]);
  const ids: ProcessId[] = [];
  for (const name of names) {
    const service = layout.servicePidFileOwner(name);
    if (service === undefined) continue;
    const id = await readPidFile(layout.servicePid(service));
    if (id && (await isAlive(id))) ids.push(id);
  }
  return ids;
}

/**
 * Stops the supervisor (which stops its services), then finds anything of
 * the appliance still alive — by pid file and by the environment marker —
 * and kills it. Fails only if something survives SIGKILL.
 */
export async function stopAll(layout: Layout): Promise<StopResult> {
  const supervisor = await readPidFile(layout.supervisorPid);
  const wasRunning = supervisor !== undefined && (await isAlive(supervisor));
  if (wasRunning) {
    signalProcess(supervisor.pid, 'SIGTERM');
    faultPoint('stop:signalled');
    if ((await waitGone([supervisor], SUPERVISOR_STOP_MS)).length > 0) {
      signalProcess(supervisor.pid, 'SIGKILL');
      await waitGone([supervisor], STRAY_GRACE_MS);
    }
  }
  const killed: number[] = [];
  const strays = [...(await servicePidFiles(layout)), ...(await findMarked(layout.applianceMarker))];
  if (strays.length > 0) {
    for (const stray of strays) {
      signalGroup(stray.pid, 'SIGTERM');
      signalProcess(stray.pid, 'SIGTERM');
      killed.push(stray.pid);
    }
    for (const stray of await waitGone(strays, STRAY_GRACE_MS)) {
      signalGroup(stray.pid, 'SIGKILL');
      signalProcess(stray.pid, 'SIGKILL');
    }
  }
  const survivors = await waitGone(await findMarked(layout.applianceMarker), STRAY_GRACE_MS);
  if (survivors.length > 0) {
    throw new InstallError(InstallErrorCodes.STOP_FAILED, `processes of the appliance survived SIGKILL: ${survivors.map((s) => s.pid).join(', ')}`, {
      hint: 'They are probably stuck in the kernel (state D); see /proc/<pid>/stack, or reboot.',
      details: { pids: survivors.map((s) => s.pid) },
    });
  }
  await rm(layout.supervisorState, { force: true });
  await rm(layout.supervisorPid, { force: true });
  for (const name of await readdir(layout.run).catch(() => [] as string[])) {
    const service = layout.servicePidFileOwner(name);
    if (service !== undefined) await rm(layout.servicePid(service), { force: true });
  }
  return { wasRunning, killed: [...new Set(killed)] };
}

/** Waits for a supervisor that is shutting down (after a crash mid-stop) to finish. */
export async function settleStopping(layout: Layout): Promise<void> {
  const state = await liveSupervisor(layout);
  if (state?.state !== 'stopping') return;
  const id = await readPidFile(layout.supervisorPid);
  if (id) await waitGone([id], SUPERVISOR_STOP_MS);
}
