/**
 * What is installed: the release links (`current`, `previous`), the record
 * of what was verified about each release, and the anti-rollback high-water
 * mark. Reads are tolerant of absence; writes are atomic and durable.
 */
import { mkdir, readlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { z } from 'zod';
import type { VerifiedHeader } from '../../bundle/index.js';
import { readJsonIfExists, removeDurably, switchSymlink, writeJsonAtomic } from '../durable.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import { isVersionName, type Layout, type ReleaseLink } from '../layout.js';
import type { ReleaseRef } from './journal.js';

const ReleaseRecordSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  sequence: z.number().int().nonnegative(),
  manifestSha256: z.string(),
  created: z.string(),
  expires: z.string(),
  components: z.array(z.string()),
  signers: z.array(z.strictObject({ subject: z.string(), fingerprint: z.string() })),
  installedAt: z.string(),
});
export type ReleaseRecord = z.infer<typeof ReleaseRecordSchema>;

const SequenceRecordSchema = z.strictObject({
  highWater: z.number().int().nonnegative(),
  version: z.string(),
  updatedAt: z.string(),
});
export type SequenceRecord = z.infer<typeof SequenceRecordSchema>;

function corrupt(path: string, cause: unknown): InstallError {
  return new InstallError(InstallErrorCodes.STATE_CORRUPT, `${path} is unreadable`, {
    cause,
    hint: 'Records under etc/ are only ever replaced atomically; restore it from a backup or reinstall.',
  });
}

async function readRecord<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
  let raw: unknown;
  try {
    raw = await readJsonIfExists(path);
  } catch (cause) {
    throw corrupt(path, cause);
  }
  if (raw === undefined) return undefined;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw corrupt(path, parsed.error);
  return parsed.data;
}

export function refOf(record: Pick<ReleaseRecord, 'name' | 'version' | 'sequence'>): ReleaseRef {
  return { name: record.name, version: record.version, sequence: record.sequence };
}

export function recordOf(bundle: VerifiedHeader): ReleaseRecord {
  const { manifest } = bundle;
  return {
    name: manifest.name,
    version: manifest.version,
    sequence: manifest.sequence,
    manifestSha256: bundle.manifestSha256,
    created: manifest.created,
    expires: manifest.expires,
    components: manifest.components.map((c) => c.name),
    signers: bundle.signatures.signers.map(({ subject, fingerprint }) => ({ subject, fingerprint })),
    installedAt: new Date().toISOString(),
  };
}

export function readReleaseRecord(layout: Layout, version: string): Promise<ReleaseRecord | undefined> {
  return readRecord(layout.releaseRecord(version), ReleaseRecordSchema);
}

export async function writeReleaseRecord(layout: Layout, record: ReleaseRecord): Promise<void> {
  await mkdir(layout.releaseRecords, { recursive: true });
  await writeJsonAtomic(layout.releaseRecord(record.version), record);
}

/** The release a link points at, or undefined when the link does not exist. */
export async function linkedVersion(layout: Layout, which: ReleaseLink): Promise<string | undefined> {
  const target = await readlink(layout.link(which)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (target === undefined) return undefined;
  const version = basename(target);
  if (!isVersionName(version) || dirname(target) !== basename(layout.releases)) {
    throw corrupt(layout.link(which), new Error(`points at ${target}, outside releases/`));
  }
  return version;
}

export async function linkedRelease(layout: Layout, which: ReleaseLink): Promise<ReleaseRecord | undefined> {
  const version = await linkedVersion(layout, which);
  if (version === undefined) return undefined;
  const record = await readReleaseRecord(layout, version);
  if (!record) throw corrupt(layout.releaseRecord(version), new Error(`${which} points at ${version}, which has no record`));
  return record;
}

/** Points a link at a release, or removes it (null). Idempotent. */
export async function setLink(layout: Layout, which: ReleaseLink, release: ReleaseRef | null): Promise<void> {
  if (release === null) {
    await removeDurably(layout.link(which));
    return;
  }
  if ((await linkedVersion(layout, which)) === release.version) return;
  await switchSymlink(layout.link(which), layout.linkTarget(release.version));
}

export function readSequenceRecord(layout: Layout): Promise<SequenceRecord | undefined> {
  return readRecord(layout.sequenceRecord, SequenceRecordSchema);
}

/**
 * Refuses a bundle whose sequence is not above the high-water mark (or, with
 * no record yet, above `floor`): an older signed bundle is never taken back.
 */
export async function assertAboveHighWater(layout: Layout, file: string, to: ReleaseRef, floor?: number): Promise<void> {
  const highWater = (await readSequenceRecord(layout))?.highWater ?? floor;
  if (highWater === undefined || to.sequence > highWater) return;
  throw new InstallError(
    InstallErrorCodes.DOWNGRADE,
    `${file} has sequence ${to.sequence} (version ${to.version}), not above the installed high-water mark ${highWater}; refusing it`,
    {
      hint: 'Only a bundle with a higher sequence can be installed; an older signed bundle is never taken back. To go back, use `airlock rollback`.',
      details: { sequence: to.sequence, highWater, version: to.version },
    },
  );
}

/** Raises the high-water mark to `release` (never lowers it). */
export async function raiseHighWater(layout: Layout, release: ReleaseRef): Promise<void> {
  const existing = await readSequenceRecord(layout);
  if (existing && existing.highWater >= release.sequence) return;
  await writeJsonAtomic(layout.sequenceRecord, { highWater: release.sequence, version: release.version, updatedAt: new Date().toISOString() });
}
