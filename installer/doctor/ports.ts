/**
 * The appliance's ports are free (or already held by the appliance itself).
 * Installed: the ports the current release declares; before that, the
 * defaults of the services the appliance ships (ARCHITECTURE.md "Services").
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { linkedVersion } from '../lifecycle/releases.js';
import { releaseServices } from '../lifecycle/transition.js';
import { findMarked } from '../supervisor/processes.js';
import { liveSupervisor } from '../supervisor/state.js';
import type { CheckGroup, CheckResult, DoctorContext } from './types.js';

export const DEFAULT_PORTS: Array<{ service: string; port: number }> = [
  { service: 'npm registry', port: 4873 },
  { service: 'model and image registry', port: 5050 },
  { service: 'policy git server', port: 7410 },
  { service: 'syslog relay', port: 5514 },
  { service: 'syslog relay (TLS)', port: 6514 },
  { service: 'OTLP relay', port: 4318 },
  { service: 'audit log', port: 7420 },
  { service: 'health (placeholder)', port: 7499 },
];

async function portFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Socket inodes listening on `port` over TCP (proc(5): /proc/net/tcp{,6}, state 0A is LISTEN). */
async function listeningInodes(port: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(`:${hex}`) && fields[3] === '0A' && fields[9]) inodes.add(fields[9]);
    }
  }
  return inodes;
}

/** The appliance process holding one of `inodes` open, if any (needs root to see other processes' fds). */
async function applianceHolder(marker: string, inodes: Set<string>): Promise<number | undefined> {
  for (const { pid } of await findMarked(marker)) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) return pid;
    }
  }
  return undefined;
}

async function wantedPorts(ctx: DoctorContext): Promise<Array<{ service: string; port: number }>> {
  const version = await linkedVersion(ctx.layout, 'current');
  if (version === undefined) return DEFAULT_PORTS;
  return (await releaseServices(ctx.layout, version)).flatMap((s) => (s.port !== undefined ? [{ service: s.name, port: s.port }] : []));
}

export const portChecks: CheckGroup = {
  id: 'ports',
  title: 'ports',
  run: async (ctx) => {
    const live = await liveSupervisor(ctx.layout);
    const serviceOf = new Map(Object.entries(live?.services ?? {}).flatMap(([name, s]) => (s.pid !== undefined ? [[s.pid, name] as const] : [])));
    const results: CheckResult[] = [];
    for (const { service, port } of await wantedPorts(ctx)) {
      const id = `ports.${port}`;
      if (await portFree(port)) {
        results.push({ id, status: 'pass', message: `port ${port} (${service}) is free` });
        continue;
      }
      const holder = await applianceHolder(ctx.layout.applianceMarker, await listeningInodes(port));
      if (holder !== undefined) {
        results.push({ id, status: 'pass', message: `port ${port} is held by the appliance's ${serviceOf.get(holder) ?? `process ${holder}`}${serviceOf.has(holder) ? ' service' : ''}` });
      } else if (!ctx.isRoot) {
        results.push({ id, status: 'warn', message: `port ${port} (${service}) is in use`, hint: 'Run doctor as root to see whether the appliance itself holds it.' });
      } else {
        results.push({
          id,
          status: 'fail',
          message: `port ${port} (${service}) is in use by another process`,
          hint: `Find it with \`ss -ltnp 'sport = :${port}'\`; stop it, or set another port for ${service} in etc/airlock.yaml.`,
        });
      }
    }
    return results;
  },
};
