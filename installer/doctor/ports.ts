/**
 * The appliance's ports are free (or already held by the appliance itself).
 * Installed: the ports the current release declares; before that, the
 * defaults of the services the appliance ships (ARCHITECTURE.md "Services").
 */
import { createServer } from 'node:net';
import { linkedVersion } from '../lifecycle/releases.js';
import { releaseServices } from '../lifecycle/transition.js';
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
    const ours = new Map(Object.entries(live?.services ?? {}).flatMap(([name, s]) => (s.port !== undefined && s.state === 'running' ? [[s.port, name] as const] : [])));
    const results: CheckResult[] = [];
    for (const { service, port } of await wantedPorts(ctx)) {
      const id = `ports.${port}`;
      if (await portFree(port)) results.push({ id, status: 'pass', message: `port ${port} (${service}) is free` });
      else if (ours.has(port)) results.push({ id, status: 'pass', message: `port ${port} is held by the appliance's ${ours.get(port)} service` });
      else {
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
