/**
 * Finishing or undoing what a crash interrupted. Every lifecycle command that
 * changes the prefix runs this first, under the lock: a journal that reached
 * `healthy` is committed (the new release was proven good), any other is
 * undone (back to the release that ran before); then the debris is swept.
 */
import type { LifecycleContext } from './context.js';
import { readJournal, reached, type Operation, type Step } from './journal.js';
import { sweep } from './sweep.js';
import { commit, undo } from './transition.js';

export interface RecoveryResult {
  /** The interrupted transition, if there was one, and what became of it. */
  journal?: { op: Operation; step: Step; outcome: 'rolled-forward' | 'rolled-back' };
  /** Paths of debris removed. */
  removed: string[];
}

export async function recover(ctx: LifecycleContext): Promise<RecoveryResult> {
  const journal = await readJournal(ctx.layout);
  let outcome: RecoveryResult['journal'];
  if (journal) {
    const { op, step } = journal;
    if (reached(journal, 'healthy') && !journal.failure) {
      ctx.note(`finishing the interrupted ${op} to ${journal.to.version} (it had passed its health check)`);
      await commit(ctx, journal, 'recovered');
      outcome = { op, step, outcome: 'rolled-forward' };
    } else {
      ctx.note(`undoing the interrupted ${op} to ${journal.to.version} (stopped after step "${step}")`);
      await undo(ctx, journal, journal.failure ?? { reason: `interrupted after step "${step}"` }, 'recovered');
      outcome = { op, step, outcome: 'rolled-back' };
    }
  }
  const removed = await sweep(ctx.layout);
  if (removed.length > 0) ctx.note(`removed ${removed.length} leftover(s) of interrupted work`);
  return { ...(outcome ? { journal: outcome } : {}), removed };
}
