/**
 * The bundle side of a transition: check a bundle's signatures and read its
 * manifest before anything under the prefix changes, then extract it into
 * its release folder with extractBundle (verified, staged, flushed, renamed)
 * and record it.
 */
import {
  assertFreeSpace,
  extractBundle,
  type TrustPolicy,
  type VerifiedBundle,
  type VerifiedHeader,
} from '../../bundle/index.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import type { Layout } from '../layout.js';
import { faultPoint } from '../test-hooks.js';
import type { LifecycleContext } from './context.js';
import { advance, type Journal } from './journal.js';
import { recordOf, writeReleaseRecord, type ReleaseRecord } from './releases.js';

/** Refuses up front, before the journal is written, when the declared payload cannot fit. */
export async function assertReleaseFits(layout: Layout, header: VerifiedHeader): Promise<void> {
  await assertFreeSpace(layout.releases, header);
}

export interface ExtractReleaseOptions {
  trust: TrustPolicy;
  /** The header checked before the journal was written: the file must still be that bundle. */
  expected: VerifiedHeader;
  onProgress?: (done: number, total: number) => void;
}

async function extractRelease(file: string, layout: Layout, options: ExtractReleaseOptions): Promise<VerifiedBundle> {
  const { expected } = options;
  return extractBundle(file, {
    trust: options.trust,
    to: layout.release(expected.manifest.version),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    onHeader: (header) => {
      faultPoint('extract:header');
      if (header.manifestSha256 !== expected.manifestSha256) {
        throw new InstallError(InstallErrorCodes.BUNDLE_CHANGED, `${file} changed while it was being installed`, {
          hint: 'Make sure nothing writes to the bundle file, then run the command again.',
        });
      }
    },
  });
}

/** Extracts the journal's release, writes its record, and marks the journal "extracted". */
export async function extractAndRecord(ctx: LifecycleContext, file: string, journal: Journal, options: ExtractReleaseOptions): Promise<ReleaseRecord> {
  const { manifest } = options.expected;
  ctx.note(`extracting ${manifest.name} ${manifest.version} (sequence ${manifest.sequence})`);
  const record = recordOf(await extractRelease(file, ctx.layout, options));
  await writeReleaseRecord(ctx.layout, record);
  await advance(ctx.layout, journal, 'extracted');
  return record;
}
