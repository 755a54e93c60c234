/**
 * Service health as an operator needs it: healthy or not, and if not, why —
 * the HTTP answer of its health check, or how it exited and the last line it
 * logged. `waitHealthy` is what install, upgrade, rollback and up block on.
 */
import { request } from 'node:http';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Layout } from '../layout.js';
import type { ResolvedService } from './services.js';
import { liveSupervisor, type ServiceRuntime, type SupervisorState } from './state.js';

/** A service without a health check counts as healthy once it stayed up this long. */
const SETTLE_MS = 1000;
/** Restarts after which a service that is down again is reported at once, not at the timeout. */
const CRASH_LOOP_RESTARTS = 3;
const PROBE_TIMEOUT_MS = 1000;
const POLL_MS = 100;

export interface ServiceHealth {
  name: string;
  port?: number;
  pid?: number;
  state: ServiceRuntime['state'] | 'not running';
  restarts: number;
  healthy: boolean;
  /** Why it is not healthy. */
  reason?: string;
}

export interface HealthReport {
  healthy: boolean;
  supervisorRunning: boolean;
  services: ServiceHealth[];
}

export async function probe(url: string): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: PROBE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 300) body += chunk;
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        resolve({ ok, detail: `GET ${url} answered ${status}${ok ? '' : `: ${body.trim().slice(0, 200)}`}` });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      resolve({ ok: false, detail: `GET ${url} failed: ${error.code === 'ECONNREFUSED' ? 'connection refused' : error.message}` });
    });
    req.end();
  });
}

/** The last non-empty line a service logged, to say why it exited. */
async function lastLogLine(path: string): Promise<string | undefined> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 4096);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8').split('\n').map((line) => line.trim()).filter(Boolean).pop();
  } finally {
    await handle.close();
  }
}

async function exitReason(layout: Layout, name: string, runtime: ServiceRuntime): Promise<string> {
  const exit = runtime.lastExit;
  const how = exit?.error ?? (exit?.signal ? `was killed by ${exit.signal}` : `exited with code ${exit?.code ?? '?'}`);
  const line = await lastLogLine(layout.serviceLog(name));
  const restarts = runtime.restarts > 0 ? ` (restarted ${runtime.restarts} times)` : '';
  return `${how}${restarts}${line ? `; last log line: ${line}` : ''}`;
}

async function checkOne(
  layout: Layout,
  service: ResolvedService,
  supervisor: SupervisorState | undefined,
): Promise<ServiceHealth> {
  const runtime = supervisor?.services[service.name];
  const base = { name: service.name, ...(service.port !== undefined ? { port: service.port } : {}) };
  if (!supervisor || !runtime) {
    return { ...base, state: 'not running', restarts: 0, healthy: false, reason: supervisor ? 'not started yet' : 'the supervisor is not running' };
  }
  const facts = { ...base, state: runtime.state, restarts: runtime.restarts, ...(runtime.pid !== undefined ? { pid: runtime.pid } : {}) };
  if (runtime.state !== 'running') {
    return { ...facts, healthy: false, reason: runtime.lastExit ? await exitReason(layout, service.name, runtime) : runtime.state };
  }
  if (service.healthUrl) {
    const result = await probe(service.healthUrl);
    return { ...facts, healthy: result.ok, ...(result.ok ? {} : { reason: result.detail }) };
  }
  const upFor = Date.now() - Date.parse(runtime.startedAt ?? '');
  return { ...facts, healthy: upFor >= SETTLE_MS, ...(upFor >= SETTLE_MS ? {} : { reason: 'starting' }) };
}

export async function checkHealth(layout: Layout, services: ResolvedService[]): Promise<HealthReport> {
  const supervisor = await liveSupervisor(layout);
  const results = await Promise.all(services.map((service) => checkOne(layout, service, supervisor)));
  return { healthy: results.every((r) => r.healthy), supervisorRunning: supervisor !== undefined, services: results };
}

/** Polls until every service is healthy, one is crash-looping, or the timeout passes. */
export async function waitHealthy(layout: Layout, services: ResolvedService[], timeoutMs: number): Promise<HealthReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await checkHealth(layout, services);
    if (report.healthy) return report;
    const crashLooping = report.services.some((s) => !s.healthy && s.state !== 'running' && s.restarts >= CRASH_LOOP_RESTARTS);
    if (crashLooping || !report.supervisorRunning || Date.now() >= deadline) return report;
    await sleep(POLL_MS);
  }
}

/** The first unhealthy service and why, for errors and the event log. */
export function firstFailure(report: HealthReport): { service: string; reason: string } | undefined {
  const failed = report.services.find((s) => !s.healthy);
  return failed ? { service: failed.name, reason: failed.reason ?? 'unhealthy' } : undefined;
}
