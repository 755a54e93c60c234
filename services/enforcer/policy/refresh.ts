/**
 * Keeps a policy's host-name rules current: re-resolves them when the
 * shortest TTL runs out (clamped to [minIntervalSeconds, maxIntervalSeconds]),
 * or at a fixed interval, and emits the new CompiledPolicy with the rules
 * added and removed so the BPF layer can update its maps in place.
 * A failed refresh keeps the last good rules (dropping allows would break a
 * running agent; dropping denies would open it) and retries at the minimum
 * interval.
 */
import { EventEmitter } from 'node:events';
import { ruleKey } from './egress.js';
import { resolvePolicy, type PreparedPolicy, type ResolveOptions } from './compile.js';
import type { CompiledPolicy, EgressRule } from './types.js';

export interface RuleDiff {
  added: EgressRule[];
  removed: EgressRule[];
}

export interface EgressDiff {
  allow: RuleDiff;
  deny: RuleDiff;
}

export interface PolicyUpdate {
  policy: CompiledPolicy;
  previous: CompiledPolicy;
  diff: EgressDiff;
}

export interface RefreshOptions extends ResolveOptions {
  /** Re-resolve at this fixed interval instead of following TTLs. */
  intervalSeconds?: number;
  /** Lower bound of the TTL-driven interval and the retry delay after a failure (default 30). */
  minIntervalSeconds?: number;
  /** Upper bound of the TTL-driven interval, and the interval when no TTL is known (default 3600). */
  maxIntervalSeconds?: number;
}

export function diffEgress(previous: CompiledPolicy, next: CompiledPolicy): EgressDiff {
  const diff = (a: EgressRule[], b: EgressRule[]): RuleDiff => {
    const before = new Set(a.map(ruleKey));
    const after = new Set(b.map(ruleKey));
    return { added: b.filter((r) => !before.has(ruleKey(r))), removed: a.filter((r) => !after.has(ruleKey(r))) };
  };
  return { allow: diff(previous.network.allow, next.network.allow), deny: diff(previous.network.deny, next.network.deny) };
}

const isEmpty = (d: EgressDiff) => d.allow.added.length + d.allow.removed.length + d.deny.added.length + d.deny.removed.length === 0;

export class PolicyRefresher extends EventEmitter<{ update: [PolicyUpdate]; error: [Error] }> {
  #policy: CompiledPolicy;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  private constructor(
    private readonly prepared: PreparedPolicy,
    first: { policy: CompiledPolicy; ttlSeconds?: number },
    private readonly options: RefreshOptions,
  ) {
    super();
    this.#policy = first.policy;
    this.#schedule(first.ttlSeconds, false);
  }

  /** Resolves the policy once (throwing as resolvePolicy does) and keeps it fresh until stop(). */
  static async start(prepared: PreparedPolicy, options: RefreshOptions = {}): Promise<PolicyRefresher> {
    return new PolicyRefresher(prepared, await resolvePolicy(prepared, options), options);
  }

  get policy(): CompiledPolicy {
    return this.#policy;
  }

  /** Re-resolves now; returns the update when the rules changed. */
  async refresh(): Promise<PolicyUpdate | undefined> {
    clearTimeout(this.#timer);
    try {
      const next = await resolvePolicy(this.prepared, this.options);
      if (this.#stopped) return undefined;
      this.#schedule(next.ttlSeconds, false);
      const diff = diffEgress(this.#policy, next.policy);
      if (isEmpty(diff)) return undefined;
      const update = { policy: next.policy, previous: this.#policy, diff };
      this.#policy = next.policy;
      this.emit('update', update);
      return update;
    } catch (e) {
      this.#schedule(undefined, true);
      // Without a listener a failed background refresh is not fatal: the last good rules stay.
      if (this.listenerCount('error') > 0) this.emit('error', e instanceof Error ? e : new Error(String(e)));
      return undefined;
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(ttlSeconds: number | undefined, failed: boolean): void {
    clearTimeout(this.#timer);
    const hasHosts = [...this.prepared.network.allow, ...this.prepared.network.deny].some((e) => e.target.kind === 'host');
    if (this.#stopped || !hasHosts) return;
    const min = this.options.minIntervalSeconds ?? 30;
    const max = this.options.maxIntervalSeconds ?? 3600;
    const seconds = failed ? min : (this.options.intervalSeconds ?? Math.min(max, Math.max(min, ttlSeconds ?? max)));
    this.#timer = setTimeout(() => void this.refresh(), Math.min(seconds * 1000, 2 ** 31 - 1));
    // A background refresh must not keep the process alive on its own.
    this.#timer.unref();
  }
}
