/** Human lines for lifecycle results (stderr); --json carries the same facts structured. */
import type { LifecycleEvent } from './lifecycle/events.js';
import type { ServiceHealth } from './supervisor/health.js';

export function describeHealth(services: ServiceHealth[]): string[] {
  return services.map((s) => {
    const where = s.port !== undefined ? `port ${s.port}` : 'no port';
    const pid = s.pid !== undefined ? `, pid ${s.pid}` : '';
    return `service    ${s.name} (${where}${pid}): ${s.healthy ? 'healthy' : `NOT HEALTHY: ${s.reason ?? s.state}`}`;
  });
}

export function describeEvent(event: LifecycleEvent): string {
  const move = `${event.from?.version ?? '-'} → ${event.to?.version ?? '-'}`;
  const failure = event.failure ? `: ${event.failure.service ? `service ${event.failure.service}: ` : ''}${event.failure.reason}` : '';
  const recovery = event.outcome ? ` (interrupted ${event.interrupted?.op} after "${event.interrupted?.step}", ${event.outcome})` : '';
  return `${event.event} ${move} at ${event.at}${recovery}${failure}`;
}
