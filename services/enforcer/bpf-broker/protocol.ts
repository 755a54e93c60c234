/**
 * The BPF broker's wire format: JSON lines on a unix socket. The broker
 * greets each connection with a `hello` line, answers each request with one
 * reply echoing `seq`, and forwards the loader's events of that connection's
 * agents (plus `lost` and `loader-exited`, which concern everyone).
 *
 *   → {"seq":1,"cmd":"add-agent","id":"a1","cgroup":"/sys/fs/cgroup/unified/airlock/a1","policy":{CompiledPolicy}}
 *   → {"seq":2,"cmd":"track-pid","id":"a1","pid":4321}
 *   → {"seq":3,"cmd":"remove-agent","id":"a1"}
 *   → {"seq":4,"cmd":"ping"}
 *   ← {"seq":1,"ok":true,"agent":1,"cgroupId":"1234"}      or {"seq":1,"ok":false,"error":{code,message,hint,details}}
 *   ← {"event":"loader","loader":{LoaderEvent: kind bpf|kaudit|killed|lost}}
 *   ← {"event":"loader-exited","code":null,"signal":"SIGKILL"}
 *
 * An agent belongs to the connection that added it: when that connection
 * closes (its `airlock run` died), the broker kills the agent's tree and
 * removes it, so no agent outlives its supervisor unaudited.
 */
import type { KernelAuditMode, LoaderEvent } from '../bpf/index.js';
import type { CompiledPolicy } from '../policy/index.js';

/** Host-wide: one loader per host, because the kernel has one audit daemon slot and one set of tracepoints is enough. */
export const BROKER_SOCKET = '/run/airlock/enforcer-bpf.sock';
/** Abstract unix socket held by the running broker: the kernel frees it when the broker dies, even by SIGKILL. */
export const BROKER_LOCK = 'airlock-enforcer-bpf';
/** How long an idle broker stays, so that back-to-back runs find the programs loaded. */
export const DEFAULT_LINGER_MS = 3000;

export interface BrokerHello {
  event: 'hello';
  /** The broker process. */
  pid: number;
  /** The loader process (bpf/build/airlock-bpf). */
  loaderPid: number;
  kaudit: KernelAuditMode;
  /** Kernel audit is on: Landlock logs its denials. */
  kauditEnabled: boolean;
  kauditNote: string;
}

export type BrokerRequest =
  | { seq: number; cmd: 'add-agent'; id: string; cgroup: string; policy: CompiledPolicy }
  | { seq: number; cmd: 'track-pid'; id: string; pid: number }
  | { seq: number; cmd: 'remove-agent'; id: string }
  | { seq: number; cmd: 'ping' };

export interface WireError {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export type BrokerReply = { seq: number; ok: true; [key: string]: unknown } | { seq: number; ok: false; error: WireError };

/** Loader events as they cross the socket (a `malformed` one stays in the broker's log). */
export type ForwardedEvent = Exclude<LoaderEvent, { kind: 'malformed' }>;

export type BrokerEvent = { event: 'loader'; loader: ForwardedEvent } | { event: 'loader-exited'; code: number | null; signal: string | null };

/** What the broker's entry point prints on stdout once, then closes it. */
export type StartLine = { ready: true; pid: number } | { busy: true } | { error: WireError };

export function toWireError(error: unknown): WireError {
  const e = error as { code?: unknown; message?: unknown; hint?: unknown; details?: unknown };
  return {
    code: typeof e.code === 'string' ? e.code : 'INTERNAL',
    message: typeof e.message === 'string' ? e.message : String(error),
    ...(typeof e.hint === 'string' ? { hint: e.hint } : {}),
    ...(e.details && typeof e.details === 'object' ? { details: e.details as Record<string, unknown> } : {}),
  };
}

export function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
