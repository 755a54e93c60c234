/**
 * The append-only lifecycle event log, `var/events.log`: one JSON object a
 * line, flushed before the command reports success. Every install, upgrade,
 * rollback, recovery, uninstall and failure lands here (the audit log will
 * take it over). Refusals that change nothing (downgrade, locked) do not.
 */
import { readFile } from 'node:fs/promises';
import { appendLineDurably } from '../durable.js';
import type { Layout } from '../layout.js';
import { faultPoint } from '../test-hooks.js';
import type { Failure, ReleaseRef } from './journal.js';

export type EventName =
  | 'install'
  | 'install-failed'
  | 'upgrade'
  | 'upgrade-failed'
  | 'rollback'
  | 'rollback-failed'
  | 'recovered'
  | 'uninstall';

export interface LifecycleEvent {
  at: string;
  event: EventName;
  /** The journal id of the transition, so a replayed commit is not logged twice. */
  journal?: string;
  from?: ReleaseRef | null;
  to?: ReleaseRef | null;
  failure?: Failure;
  /** For `recovered`: what the interrupted transition was and what recovery did with it. */
  interrupted?: { op: string; step: string };
  outcome?: 'rolled-back' | 'rolled-forward';
  purge?: boolean;
}

export async function readEvents(layout: Layout): Promise<LifecycleEvent[]> {
  const text = await readFile(layout.events, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const events: LifecycleEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      events.push(JSON.parse(line) as LifecycleEvent);
    } catch {
      // A line torn by a crash mid-append; the lines around it are intact.
    }
  }
  return events;
}

export async function recordEvent(layout: Layout, event: Omit<LifecycleEvent, 'at'>): Promise<LifecycleEvent> {
  if (event.journal !== undefined) {
    const logged = (await readEvents(layout)).find((e) => e.journal === event.journal && e.event === event.event);
    if (logged) return logged;
  }
  const full: LifecycleEvent = { at: new Date().toISOString(), ...event };
  await appendLineDurably(layout.events, JSON.stringify(full));
  faultPoint('event:recorded');
  return full;
}
