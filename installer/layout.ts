/**
 * The install layout: every path under the prefix (and the few outside it)
 * is named here and nowhere else.
 *
 *   PREFIX/releases/<version>/   immutable extracted payloads
 *   PREFIX/current, previous     symlinks into releases/, switched by rename
 *   PREFIX/etc/                  pinned trust, release records, airlock.yaml
 *   PREFIX/var/                  state that outlives releases (and a plain uninstall): sequence high-water mark, event log, journal, service state
 *   PREFIX/run/                  pid files, supervisor state, lock holder
 *   PREFIX/log/                  supervisor and service logs
 */
import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';

export const DEFAULT_PREFIX = '/opt/airlock';
export const PREFIX_ENV = 'AIRLOCK_PREFIX';
/** Set on the supervisor and every service; `down` finds strays by it. */
export const APPLIANCE_ENV = 'AIRLOCK_APPLIANCE';

export type ReleaseLink = 'current' | 'previous';

/** A release folder is named by its semantic version (manifest-validated). */
const VERSION_NAME = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,127}$/;
/** Hidden leftovers of interrupted writes: extractBundle's staging folders and our temp files. */
const DEBRIS_NAME = /^\..+\.(staging|tmp)-[A-Za-z0-9]+$/;

export function resolvePrefix(flag?: string): string {
  return resolve(flag ?? process.env[PREFIX_ENV] ?? DEFAULT_PREFIX);
}

export function isVersionName(name: string): boolean {
  return VERSION_NAME.test(name) && name !== '.' && name !== '..';
}

export function isDebrisName(name: string): boolean {
  return DEBRIS_NAME.test(name);
}

/** A fresh hidden name beside `path` for a write that is renamed into place. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

export class Layout {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = resolve(prefix);
  }

  // ------------------------------------------------------------- releases
  get releases(): string {
    return join(this.prefix, 'releases');
  }

  release(version: string): string {
    if (!isVersionName(version)) throw new Error(`not a release name: ${JSON.stringify(version)}`);
    return join(this.releases, version);
  }

  link(which: ReleaseLink): string {
    return join(this.prefix, which);
  }

  /** What a release link holds: relative, so a prefix can be moved or mounted elsewhere. */
  linkTarget(version: string): string {
    return join(basename(this.releases), basename(this.release(version)));
  }

  /** The services manifest every release carries at its root. */
  servicesManifest(releaseDir: string): string {
    return join(releaseDir, 'services.yaml');
  }

  // ------------------------------------------------------------------ etc
  get etc(): string {
    return join(this.prefix, 'etc');
  }

  /** The pinned trust: root certificates (and a revocation list) usable by loadTrust. */
  get trustDir(): string {
    return join(this.etc, 'trust');
  }

  get trustRoots(): string {
    return join(this.trustDir, 'root.crt');
  }

  get trustRevocations(): string {
    return join(this.trustDir, 'revocations.json');
  }

  get config(): string {
    return join(this.etc, 'airlock.yaml');
  }

  get releaseRecords(): string {
    return join(this.etc, 'releases');
  }

  /** What was verified about a release when it was installed (name, sequence, signers). */
  releaseRecord(version: string): string {
    return join(this.releaseRecords, `${basename(this.release(version))}.json`);
  }

  /** Named agent policies (`airlock run --policy NAME`): NAME.yaml. */
  get policies(): string {
    return join(this.etc, 'policies');
  }

  // ------------------------------------------------------------------ var
  get var(): string {
    return join(this.prefix, 'var');
  }

  /** The enforcer's audit trail (root-only; no agent may ever reach it). */
  get auditDir(): string {
    return join(this.var, 'audit');
  }

  /** Every enforcer decision, one JSON line each, appended. */
  get auditEvents(): string {
    return join(this.auditDir, 'enforcer.jsonl');
  }

  /** Agents' default workspaces: workspaces/<agent id>. */
  get workspaces(): string {
    return join(this.var, 'workspaces');
  }

  /**
   * The anti-rollback high-water mark: the highest sequence ever committed.
   * Under var/ so that a plain uninstall keeps it and a reinstall cannot
   * bring an older signed bundle back; only --purge forgets it.
   */
  get sequenceRecord(): string {
    return join(this.var, 'installed-sequence.json');
  }

  /** Append-only JSON lines: every install, upgrade, rollback and failure. */
  get events(): string {
    return join(this.var, 'events.log');
  }

  /** The in-flight lifecycle transition; present only while one runs (or crashed). */
  get journal(): string {
    return join(this.var, 'journal.json');
  }

  get serviceStates(): string {
    return join(this.var, 'services');
  }

  serviceState(name: string): string {
    return join(this.serviceStates, name);
  }

  // ------------------------------------------------------------------ run
  get run(): string {
    return join(this.prefix, 'run');
  }

  /** Who holds the lifecycle lock (informational; the lock itself is kernel-held). */
  get lockHolder(): string {
    return join(this.run, 'lifecycle.lock');
  }

  get supervisorPid(): string {
    return join(this.run, 'supervisor.pid');
  }

  /** The supervisor's view of its services, rewritten on every change. */
  get supervisorState(): string {
    return join(this.run, 'supervisor.json');
  }

  servicePid(name: string): string {
    return join(this.run, `${name}.pid`);
  }

  /** One record a running agent (`airlock agents`). */
  get agentRecords(): string {
    return join(this.run, 'agents');
  }

  /** The service whose pid file `fileName` (an entry of run/) is, if it is one. */
  servicePidFileOwner(fileName: string): string | undefined {
    const match = /^(.+)\.pid$/.exec(fileName);
    return match && this.servicePid(match[1]!) !== this.supervisorPid ? match[1] : undefined;
  }

  // ------------------------------------------------------------------ log
  get log(): string {
    return join(this.prefix, 'log');
  }

  get supervisorLog(): string {
    return join(this.log, 'supervisor.log');
  }

  serviceLog(name: string): string {
    return join(this.log, `${name}.log`);
  }

  /** The host's BPF broker, when a run under this prefix started it. */
  get enforcerBrokerLog(): string {
    return join(this.log, 'enforcer-bpf.log');
  }

  /**
   * What no agent policy may grant (nor grant a parent of): everything the
   * appliance owns. Only var/workspaces is left to agents; the caller adds
   * whatever else var/ holds when the agent starts.
   */
  get enforcerProtectedPaths(): string[] {
    return [this.releases, this.link('current'), this.link('previous'), this.etc, this.run, this.log, this.auditDir, this.events, this.journal, this.serviceStates];
  }

  // ------------------------------------------------------- outside the prefix
  /** A short stable id of the prefix, for names that live outside it. */
  get id(): string {
    return createHash('sha256').update(this.prefix).digest('hex').slice(0, 16);
  }

  /** Abstract unix socket names: the kernel frees them when their holder dies, even by SIGKILL. */
  get lifecycleLockName(): string {
    return `airlock-lifecycle-${this.id}`;
  }

  get supervisorLockName(): string {
    return `airlock-supervisor-${this.id}`;
  }

  /** The environment entry that marks every process of this appliance. */
  get applianceMarker(): string {
    return `${APPLIANCE_ENV}=${this.prefix}`;
  }

  get systemdUnitName(): string {
    return this.prefix === DEFAULT_PREFIX ? 'airlock.service' : `airlock-${this.id}.service`;
  }

  get systemdUnit(): string {
    return join(SYSTEMD_UNIT_DIR, this.systemdUnitName);
  }
}

/** Present exactly when systemd is PID 1 (sd_booted(3)). */
export const SYSTEMD_RUNTIME_DIR = '/run/systemd/system';
export const SYSTEMD_UNIT_DIR = '/etc/systemd/system';
