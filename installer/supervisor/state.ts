/**
 * The supervisor's published view of itself and its services,
 * `run/supervisor.json`: written by the supervisor on every change, read by
 * `status`, the health wait and `up`.
 */
import { readJsonIfExists } from '../durable.js';
import type { Layout } from '../layout.js';
import { isAlive, readPidFile } from './processes.js';

export interface ServiceRuntime {
  state: 'starting' | 'running' | 'backoff' | 'stopped';
  pid?: number;
  port?: number;
  startedAt?: string;
  /** How many times it was started again after exiting. */
  restarts: number;
  lastExit?: { code: number | null; signal: string | null; at: string; error?: string };
  nextStartAt?: string;
}

export interface SupervisorState {
  pid: number;
  state: 'running' | 'stopping';
  version: string;
  startedAt: string;
  services: Record<string, ServiceRuntime>;
}

/** The live supervisor's state, or undefined when no supervisor runs for this prefix. */
export async function liveSupervisor(layout: Layout): Promise<SupervisorState | undefined> {
  const id = await readPidFile(layout.supervisorPid);
  if (!id || !(await isAlive(id))) return undefined;
  const state = (await readJsonIfExists(layout.supervisorState).catch(() => undefined)) as SupervisorState | undefined;
  if (state?.pid !== id.pid) {
    // Started, but has not published its first state yet.
    return { pid: id.pid, state: 'running', version: '', startedAt: '', services: {} };
  }
  return state;
}
