/**
 * The supervisor: runs the current release's services as child processes
 * until SIGTERM/SIGINT. Each service gets its own process group (so a stop
 * reaches everything it forked), a pid file under run/, a log under log/,
 * and is restarted with exponential backoff when it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { readConfig } from '../config.js';
import { writeJsonAtomic } from '../durable.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import type { Layout } from '../layout.js';
import { claimAbstractSocket } from '../lock.js';
import { linkedVersion } from '../lifecycle/releases.js';
import { findMarked, identify, removePidFile, signalGroup, signalProcess, waitGone, writePidFile } from './processes.js';
import { loadServiceSpecs, resolveServices, type ResolvedService } from './services.js';
import type { ServiceRuntime, SupervisorState } from './state.js';

const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** A service that stayed up this long starts its backoff from the beginning again. */
const STABLE_AFTER_MS = 10_000;
/** SIGTERM, then this long, then SIGKILL for the whole group. */
const STOP_GRACE_MS = 10_000;

interface Supervised {
  service: ResolvedService;
  runtime: ServiceRuntime;
  child?: ChildProcess;
  exited?: Promise<void>;
  pidFile?: Promise<void>;
  failures: number;
  timer?: NodeJS.Timeout;
}

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} supervisor[${process.pid}]: ${message}\n`);
}

class Supervisor {
  private readonly entries: Supervised[];
  private stopping = false;
  private readonly startedAt = new Date().toISOString();
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly layout: Layout,
    private readonly version: string,
    services: ResolvedService[],
  ) {
    this.entries = services.map((service) => ({
      service,
      runtime: { state: 'starting', restarts: 0, ...(service.port !== undefined ? { port: service.port } : {}) },
      failures: 0,
    }));
  }

  start(): void {
    for (const entry of this.entries) this.launch(entry);
    this.publish();
  }

  /** Publishes the state; writes are chained so they land in order. */
  private publish(): void {
    const state: SupervisorState = {
      pid: process.pid,
      state: this.stopping ? 'stopping' : 'running',
      version: this.version,
      startedAt: this.startedAt,
      services: Object.fromEntries(this.entries.map((e) => [e.service.name, { ...e.runtime }])),
    };
    this.writes = this.writes
      .then(() => writeJsonAtomic(this.layout.supervisorState, state, { durable: false }))
      .catch((error: unknown) => log(`cannot write ${this.layout.supervisorState}: ${(error as Error).message}`));
  }

  private launch(entry: Supervised): void {
    const { service } = entry;
    const out = openSync(this.layout.serviceLog(service.name), 'a', 0o640);
    let child: ChildProcess;
    try {
      child = spawn(service.argv[0], service.argv.slice(1), {
        cwd: service.cwd,
        env: service.env,
        // Its own session and process group: a stop signals the group, so nothing it forked survives.
        detached: true,
        stdio: ['ignore', out, out],
      });
    } finally {
      closeSync(out);
    }
    entry.child = child;
    const began = Date.now();
    entry.runtime = { ...entry.runtime, state: 'running', startedAt: new Date(began).toISOString() };
    delete entry.runtime.nextStartAt;
    let spawnError: string | undefined;
    child.once('error', (error) => {
      spawnError = error.message;
    });
    entry.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        const pid = child.pid;
        // The leader is gone; whatever it left in its group goes with it.
        if (pid !== undefined) signalGroup(pid, 'SIGKILL');
        const pidFileGone = (entry.pidFile ?? Promise.resolve()).then(() => removePidFile(this.layout.servicePid(service.name)));
        entry.child = undefined;
        entry.runtime = {
          ...entry.runtime,
          state: 'stopped',
          lastExit: { code, signal, at: new Date().toISOString(), ...(spawnError ? { error: spawnError } : {}) },
        };
        delete entry.runtime.pid;
        log(`${service.name} exited (${signal ?? `code ${code}`}${spawnError ? `: ${spawnError}` : ''})`);
        if (!this.stopping) this.scheduleRestart(entry, Date.now() - began);
        this.publish();
        resolve(pidFileGone.catch(() => undefined));
      });
    });
    if (child.pid !== undefined) {
      entry.runtime.pid = child.pid;
      const pid = child.pid;
      entry.pidFile = identify(pid)
        .then((id) => (id ? writePidFile(this.layout.servicePid(service.name), id) : undefined))
        .catch((error: unknown) => log(`cannot write the pid file of ${service.name}: ${(error as Error).message}`));
      log(`started ${service.name} (pid ${pid})`);
    }
  }

  private scheduleRestart(entry: Supervised, ranMs: number): void {
    entry.failures = ranMs >= STABLE_AFTER_MS ? 1 : entry.failures + 1;
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** (entry.failures - 1), BACKOFF_MAX_MS);
    entry.runtime = { ...entry.runtime, state: 'backoff', nextStartAt: new Date(Date.now() + delay).toISOString() };
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.stopping) return;
      entry.runtime.restarts += 1;
      this.launch(entry);
      this.publish();
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.publish();
    for (const entry of this.entries) {
      if (entry.timer) clearTimeout(entry.timer);
      if (entry.child?.pid !== undefined) signalGroup(entry.child.pid, 'SIGTERM');
    }
    const running = this.entries.filter((e) => e.child && e.exited);
    const all = Promise.all(running.map((e) => e.exited));
    const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), STOP_GRACE_MS).unref());
    if ((await Promise.race([all, grace])) === 'late') {
      for (const entry of running) if (entry.child?.pid !== undefined) signalGroup(entry.child.pid, 'SIGKILL');
      await all;
    }
    await this.writes;
  }
}

/**
 * Whatever still carries the appliance's marker once every service group is
 * gone escaped its group (a daemon that called setsid): it dies too, so a
 * supervisor stopped by systemd, a container runtime or `down` leaves nothing.
 */
async function killStrays(layout: Layout): Promise<void> {
  const strays = await findMarked(layout.applianceMarker);
  for (const stray of strays) {
    log(`killing stray process ${stray.pid} left by a service`);
    signalProcess(stray.pid, 'SIGKILL');
  }
  await waitGone(strays, STOP_GRACE_MS);
}

/**
 * Runs the supervisor in this process until SIGTERM, SIGINT or SIGHUP, then stops
 * every service and returns. One supervisor per prefix.
 */
export async function runSupervisor(layout: Layout): Promise<void> {
  const claim = await claimAbstractSocket(layout.supervisorLockName);
  if (!claim) {
    throw new InstallError(InstallErrorCodes.START_FAILED, `a supervisor is already running for ${layout.prefix}`, {
      hint: 'Use `airlock status` to see it, `airlock down` to stop it.',
    });
  }
  try {
    const version = await linkedVersion(layout, 'current');
    if (version === undefined) {
      throw new InstallError(InstallErrorCodes.NOT_INSTALLED, `nothing is installed under ${layout.prefix}`, {
        hint: 'Install a bundle first: `airlock install FILE --trust ROOT`.',
      });
    }
    const releaseDir = layout.release(version);
    const services = resolveServices(layout, releaseDir, await loadServiceSpecs(layout, releaseDir), await readConfig(layout));
    await mkdir(layout.run, { recursive: true });
    await mkdir(layout.log, { recursive: true });
    for (const service of services) await mkdir(layout.serviceState(service.name), { recursive: true, mode: 0o750 });

    const self = await identify(process.pid);
    if (self) await writePidFile(layout.supervisorPid, self);
    log(`supervising ${services.map((s) => s.name).join(', ')} of release ${version}`);
    const supervisor = new Supervisor(layout, version, services);
    // Handled for good (not once): a second signal while stopping must not kill us before the services.
    const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => resolve(signal));
    });
    supervisor.start();
    const signal = await stopRequested;
    log(`${signal}: stopping`);
    await supervisor.stop();
    await killStrays(layout);
    await rm(layout.supervisorState, { force: true });
    await removePidFile(layout.supervisorPid);
    log('stopped');
  } finally {
    claim.close();
  }
}
