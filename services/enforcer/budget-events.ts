/**
 * The cgroup layer's decisions, read off the agent's counters when it ends
 * (the kernel counts them; it does not report each one): forks refused at
 * max_processes, processes the OOM killer ended at max_memory_mb, and the
 * timeout. Pure.
 */
import type { AuditEvent } from './audit-events.js';
import type { CgroupUsage } from './cgroups/index.js';
import type { CompiledPolicy } from './policy/index.js';

export type BudgetEvent = Omit<AuditEvent, 'time' | 'agent' | 'policy'>;

export function budgetEvents(policy: Pick<CompiledPolicy, 'execution'>, usage: CgroupUsage, timedOut: boolean, pid: number): BudgetEvent[] {
  const { maxProcesses, maxMemoryBytes, timeoutSeconds } = policy.execution;
  const events: BudgetEvent[] = [];
  const base = { pid, exe: null, layer: 'cgroup' as const };
  if (usage.pids.forkFailures > 0) {
    events.push({ ...base, operation: 'spawn', target: `${usage.pids.forkFailures} fork(s) refused`, verdict: 'deny', rule: `execution.max_processes: ${maxProcesses}`, detail: { count: usage.pids.forkFailures } });
  }
  if (usage.memory.oomKills > 0) {
    events.push({ ...base, operation: 'memory', target: `${usage.memory.oomKills} process(es) killed`, verdict: 'kill', rule: `execution.max_memory_mb: ${maxMemoryBytes / 2 ** 20}`, detail: { count: usage.memory.oomKills, peakBytes: usage.memory.peakBytes ?? null } });
  }
  if (timedOut) {
    events.push({ ...base, operation: 'timeout', target: 'agent process tree', verdict: 'kill', rule: `execution.timeout_minutes (${timeoutSeconds} s)` });
  }
  return events;
}
