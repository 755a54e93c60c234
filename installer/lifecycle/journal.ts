/**
 * The transition journal, `var/journal.json`: what a lifecycle transition
 * (install, upgrade, rollback) set out to do and the last step it finished.
 * Rewritten atomically after every step; removed once the transition is
 * committed or undone. Whoever finds one left by a crash finishes it (once it
 * reached `healthy`) or undoes it (before that).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { readJsonIfExists, removeDurably, writeJsonAtomic } from '../durable.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import type { Layout } from '../layout.js';
import { faultPoint } from '../test-hooks.js';

/** In order. A crash before `healthy` is undone; from `healthy` on it is committed. */
export const STEPS = ['intent', 'extracted', 'migrated', 'stopped', 'switched', 'started', 'healthy'] as const;
export type Step = (typeof STEPS)[number];
export type Operation = 'install' | 'upgrade' | 'rollback';

const ReleaseRefSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  sequence: z.number().int().nonnegative(),
});
export type ReleaseRef = z.infer<typeof ReleaseRefSchema>;

const FailureSchema = z.strictObject({
  /** The service that failed, when one did. */
  service: z.string().optional(),
  reason: z.string(),
});
export type Failure = z.infer<typeof FailureSchema>;

const JournalSchema = z.strictObject({
  id: z.string(),
  op: z.enum(['install', 'upgrade', 'rollback']),
  step: z.enum(STEPS),
  startedAt: z.string(),
  updatedAt: z.string(),
  /** `current` before the transition (null on first install). */
  from: ReleaseRefSchema.nullable(),
  /** `previous` before the transition, restored on undo. */
  previousBefore: ReleaseRefSchema.nullable(),
  to: ReleaseRefSchema,
  /** The transition extracted `to` itself, so undoing it removes it. */
  extracts: z.boolean(),
  /** Set once the transition failed and is being undone. */
  failure: FailureSchema.optional(),
});
export type Journal = z.infer<typeof JournalSchema>;

export function reached(journal: Journal, step: Step): boolean {
  return STEPS.indexOf(journal.step) >= STEPS.indexOf(step);
}

export async function readJournal(layout: Layout): Promise<Journal | undefined> {
  let raw: unknown;
  try {
    raw = await readJsonIfExists(layout.journal);
  } catch (cause) {
    throw corrupt(layout, cause);
  }
  if (raw === undefined) return undefined;
  const parsed = JournalSchema.safeParse(raw);
  if (!parsed.success) throw corrupt(layout, parsed.error);
  return parsed.data;
}

function corrupt(layout: Layout, cause: unknown): InstallError {
  return new InstallError(InstallErrorCodes.STATE_CORRUPT, `the transition journal ${layout.journal} is unreadable`, {
    cause,
    hint: 'It is only ever replaced atomically, so the disk or an operator changed it. Inspect it; remove it only if current and previous point at good releases.',
  });
}

export function newJournal(fields: Pick<Journal, 'op' | 'from' | 'previousBefore' | 'to' | 'extracts'>): Journal {
  const now = new Date().toISOString();
  return { id: randomUUID(), step: 'intent', startedAt: now, updatedAt: now, ...fields };
}

export async function writeJournal(layout: Layout, journal: Journal): Promise<void> {
  journal.updatedAt = new Date().toISOString();
  await writeJsonAtomic(layout.journal, journal);
  faultPoint(`${journal.op}:${journal.failure ? 'failure' : journal.step}`);
}

/** Records that `step` is done. */
export async function advance(layout: Layout, journal: Journal, step: Step): Promise<void> {
  journal.step = step;
  await writeJournal(layout, journal);
}

export async function clearJournal(layout: Layout): Promise<void> {
  await removeDurably(layout.journal);
}
