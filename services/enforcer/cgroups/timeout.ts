/**
 * The wall-clock budget: kills an agent's whole tree when its time is up.
 * Timers longer than Node's maximum (about 24.8 days) are chained.
 */
import type { AgentCgroup } from './agent-cgroup.js';

export interface TimeoutHandle {
  /** Stops the countdown (the agent ended on its own). */
  cancel(): void;
  /** True once the budget ran out and the kill was started. */
  readonly expired: boolean;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * After `timeoutSeconds`, kills the tree and calls `onExpired` with the
 * kill's failure, if any (the caller reports the run as timed out).
 */
export function killAfter(cgroup: Pick<AgentCgroup, 'kill'>, timeoutSeconds: number, onExpired?: (error?: unknown) => void): TimeoutHandle {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const deadline = Date.now() + timeoutSeconds * 1000;
  const arm = () => {
    const left = deadline - Date.now();
    if (left > 0) {
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      return;
    }
    expired = true;
    cgroup.kill().then(
      () => onExpired?.(),
      (e: unknown) => onExpired?.(e),
    );
  };
  arm();
  return {
    cancel: () => clearTimeout(timer),
    get expired() {
      return expired;
    },
  };
}
