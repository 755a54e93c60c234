/**
 * Fixtures for the appliance lifecycle suites: a throwaway PKI, signed
 * bundles built on the fly from temp image folders (with services that are
 * healthy, unhealthy, crashing, slow or leave orphans), the real `airlock`
 * binary run as a child process, and host inspection (/proc scans, prefix
 * snapshots) that does not trust anything airlock says about itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, copyFile, lstat, mkdir, mkdtemp, open, readdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { createBundle, createRootCertificate, generateKeyPair, issueSigner, type SigningIdentity } from '../../bundle/index.js';
import { AIRLOCK_BIN } from './run-airlock.js';

const HEALTH_SERVER = fileURLToPath(new URL('../../images/default/health/server.mjs', import.meta.url));
const TEST_SERVICES = fileURLToPath(new URL('./appliance-services/', import.meta.url));

/** What a test service does: `ok` is the real placeholder health service of images/default. */
export type ServiceKind = 'ok' | 'unhealthy' | 'crash' | 'slow' | 'forker';

export interface ServiceFixture {
  name: string;
  kind: ServiceKind;
  port?: number;
  env?: Record<string, string>;
}

export interface BundleFixture {
  version: string;
  sequence: number;
  services: ServiceFixture[];
  /** Adds an incompressible payload file of this many bytes (disk and timing tests). */
  padBytes?: number;
  /** Replaces the generated services.yaml verbatim. */
  servicesYaml?: string;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  json?: any;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts the real binary; the caller may kill it. HOME is a temp folder so oclif's caches stay out of /root. */
export function startAirlock(args: string[], env: NodeJS.ProcessEnv = {}, wrapper: string[] = []): { child: ChildProcess; done: Promise<Run> } {
  const argv = [...wrapper, process.execPath, AIRLOCK_BIN, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      let json: unknown;
      try {
        json = args.includes('--json') && stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, ...(json !== undefined ? { json } : {}) });
    });
  });
  return { child, done };
}

export function airlock(args: string[], env: NodeJS.ProcessEnv = {}, wrapper: string[] = []): Promise<Run> {
  return startAirlock(args, env, wrapper).done;
}

/** A temp work folder with a PKI; builds signed bundles of test services. */
export class ApplianceFixture {
  private constructor(
    readonly work: string,
    readonly trustRoot: string,
    private readonly signer: SigningIdentity,
  ) {}

  static async create(label: string): Promise<ApplianceFixture> {
    const work = await mkdtemp(join(tmpdir(), `airlock-e2e-${label}-`));
    const root = generateKeyPair();
    const rootCert = createRootCertificate(root.privateKeyPem, { commonName: `Lifecycle Test Root ${label}`, days: 30 });
    const signer = issueSigner(root.privateKeyPem, rootCert, { commonName: 'Lifecycle Test Signer', days: 30 });
    const trustRoot = join(work, 'root.crt');
    await writeFile(trustRoot, rootCert);
    return new ApplianceFixture(work, trustRoot, { privateKeyPem: signer.privateKeyPem, certificatePems: [signer.certificatePem] });
  }

  get prefix(): string {
    return join(this.work, 'prefix');
  }

  async bundle(spec: BundleFixture): Promise<string> {
    const image = join(this.work, 'images', `${spec.version}-${randomBytes(3).toString('hex')}`);
    await mkdir(join(image, 'bin'), { recursive: true });
    for (const kind of new Set(spec.services.map((s) => s.kind))) {
      await copyFile(kind === 'ok' ? HEALTH_SERVER : join(TEST_SERVICES, `${kind}.mjs`), join(image, 'bin', `${kind}.mjs`));
    }
    await writeFile(join(image, 'services.yaml'), spec.servicesYaml ?? servicesYaml(spec.services));
    const components = [
      '  - name: appliance',
      '    files:',
      '      - src: services.yaml',
      '        dest: services.yaml',
      '      - src: bin',
      '        dest: bin',
    ];
    if (spec.padBytes) {
      await mkdir(join(image, 'data'));
      await writePad(join(image, 'data', 'pad.bin'), spec.padBytes);
      components.push('  - name: data', '    files:', '      - src: data', '        dest: data');
    }
    const recipe = ['name: airlock', `version: ${spec.version}`, `sequence: ${spec.sequence}`, 'expires: 7d', 'components:', ...components].join('\n');
    await writeFile(join(image, 'image.yaml'), `${recipe}\n`);
    const out = join(this.work, `airlock-${spec.version}.airlock`);
    await createBundle(image, { signers: [this.signer], out });
    await rm(image, { recursive: true, force: true });
    return out;
  }

  async cleanup(): Promise<void> {
    await airlock(['down', '--prefix', this.prefix]);
    for (const { pid } of await applianceProcesses(this.prefix)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(this.work, { recursive: true, force: true });
  }
}

function servicesYaml(services: ServiceFixture[]): string {
  const lines = ['format: airlock-services/1', 'services:'];
  for (const s of services) {
    lines.push(`  - name: ${s.name}`, `    command: [node, bin/${s.kind}.mjs]`);
    if (s.env) lines.push('    env:', ...Object.entries(s.env).map(([k, v]) => `      ${k}: "${v}"`));
    if (s.port !== undefined) lines.push(`    port: ${s.port}`, '    health:', '      path: /healthz');
  }
  return `${lines.join('\n')}\n`;
}

async function writePad(path: string, bytes: number): Promise<void> {
  const chunk = 4 << 20;
  const handle = await open(path, 'w');
  try {
    for (let left = bytes; left > 0; left -= chunk) await handle.write(randomBytes(Math.min(chunk, left)));
  } finally {
    await handle.close();
  }
}

export interface HostProcess {
  pid: number;
  cmdline: string;
  cwd: string;
}

/**
 * Every live process that belongs to the appliance under `prefix`, found the
 * way an operator would: its environment names the prefix, it runs inside
 * it, or its command line mentions it. Zombies are not running processes.
 */
export async function applianceProcesses(prefix: string): Promise<HostProcess[]> {
  const found: HostProcess[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const dir = `/proc/${name}`;
    const stat = await readFile(`${dir}/stat`, 'utf8').catch(() => '');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (!stat || state === 'Z' || state === 'X') continue;
    const environ = (await readFile(`${dir}/environ`, 'utf8').catch(() => '')).split('\0');
    const cmdline = (await readFile(`${dir}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
    const cwd = await readlink(`${dir}/cwd`).catch(() => '');
    if (environ.includes(`AIRLOCK_APPLIANCE=${prefix}`) || cwd.startsWith(`${prefix}/`) || cmdline.includes(prefix)) {
      found.push({ pid: Number(name), cmdline, cwd });
    }
  }
  return found;
}

/** Every entry under `root`: type, mode, and content hash or link target. */
export async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const key = rel ? `${rel}/${name}` : name;
      const info = await lstat(path);
      const mode = (info.mode & 0o7777).toString(8);
      if (info.isSymbolicLink()) out[key] = `link ${await readlink(path)}`;
      else if (info.isDirectory()) {
        out[key] = `dir ${mode}`;
        await walk(path, key);
      } else out[key] = `file ${mode} ${createHash('sha256').update(await readFile(path)).digest('hex')}`;
    }
  }
  await walk(root, '');
  return out;
}

/** Names under `root` that interrupted work leaves: staging folders and temp files. */
export async function debris(root: string): Promise<string[]> {
  return Object.keys(await snapshot(root)).filter((path) => /(^|\/)\.[^/]+\.(staging|tmp)-[^/]+$/.test(path));
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000, pollMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** Processes under `releaseDir` (services run with it as their working directory). */
export async function processesIn(prefix: string, releaseDir: string): Promise<HostProcess[]> {
  const real = await realpath(releaseDir);
  return (await applianceProcesses(prefix)).filter((p) => p.cwd === real);
}

/** Whether a path exists (anything there, followed through symlinks). */
export const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/** `airlock status --json` of a prefix, which must succeed. */
export async function statusOf(prefix: string): Promise<any> {
  const run = await airlock(['status', '--prefix', prefix, '--json']);
  expect(run.code, run.stderr).toBe(0);
  return run.json;
}
