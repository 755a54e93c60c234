/**
 * Watches one running agent: every event the BPF broker forwards for it
 * becomes audit events (appended as they come), and the monitor remembers the
 * first violation, the loader's kill report, lost records, and whether the
 * broker or its loader went away (the agent is then no longer audited).
 */
import { AuditTranslator, type KillReport, type Violation } from './audit-events.js';
import type { AuditLog } from './audit-log.js';
import type { BrokerClient, BrokerEvent } from './bpf-broker/index.js';
import { RunError, RunErrorCodes } from './errors.js';
import type { CompiledPolicy } from './policy/index.js';

export interface MonitorOptions {
  id: string;
  policy: CompiledPolicy;
  /** The agent's first process and the program it executes. */
  pid: number;
  program: string;
  audit: AuditLog;
  broker: BrokerClient;
}

export class RunMonitor {
  readonly #translator: AuditTranslator;
  readonly #audit: AuditLog;
  readonly #stop: () => void;
  readonly #waiters = new Set<() => void>();
  #kill: KillReport | undefined;
  #lost = 0;
  /** Why the agent can no longer be supervised: the loader died, or the audit trail cannot be written. */
  #failure: unknown;
  #failed!: (reason: unknown) => void;
  /** Resolves (with its reason) when the agent must be ended because it is no longer audited. */
  readonly failure: Promise<unknown>;

  constructor(options: MonitorOptions) {
    this.#audit = options.audit;
    this.failure = new Promise((resolve) => (this.#failed = resolve));
    this.#translator = new AuditTranslator({ agent: options.id, policy: options.policy, pid: options.pid, program: options.program, wallClock });
    this.#stop = options.broker.on((message) => this.#handle(message));
  }

  get violation(): Violation | undefined {
    return this.#translator.violation;
  }

  get kill(): KillReport | undefined {
    return this.#kill;
  }

  get lost(): number {
    return this.#lost;
  }

  get failed(): unknown {
    return this.#failure;
  }

  /** Resolves at the next event (or after `ms`). */
  next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  /**
   * The agent's first process died by a signal we did not send: give the
   * layer that killed it (eBPF, Landlock via kernel audit, seccomp) a moment
   * to say so, and the loader to report the kill.
   */
  async settle(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while ((!this.violation || !this.#kill) && Date.now() < deadline) await this.next(deadline - Date.now());
  }

  #fail(reason: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = reason;
    this.#failed(reason);
  }

  stop(): void {
    this.#stop();
  }

  #handle(message: BrokerEvent): void {
    if (message.event === 'loader-exited') this.#fail(new RunError(RunErrorCodes.BROKER_FAILED, `the BPF loader exited (code ${message.code}, signal ${message.signal})`, { hint: 'The agent was killed: it was no longer audited.' }));
    else {
      const translation = this.#translator.translate(message.loader);
      try {
        for (const event of translation.events) this.#audit.append(event);
      } catch (error) {
        this.#fail(error);
      }
      if (translation.kill) this.#kill ??= translation.kill;
      this.#lost += translation.lost ?? 0;
    }
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** CLOCK_MONOTONIC (the BPF timestamps) → wall clock. process.hrtime reads the same clock. */
function wallClock(monotonicNs: number): Date {
  const nowNs = Number(process.hrtime.bigint());
  return new Date(Date.now() - (nowNs - monotonicNs) / 1e6);
}
