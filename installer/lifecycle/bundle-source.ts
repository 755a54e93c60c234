/**
 * The bundle side of a transition: check a bundle's signatures and read its
 * manifest before anything under the prefix changes, then extract it into
 * its release folder with extractBundle (verified, staged, flushed, renamed).
 */
import { chmod } from 'node:fs/promises';
import {
  BundleError,
  BundleErrorCodes,
  assertFreeSpace,
  extractBundle,
  readBundle,
  type TrustPolicy,
  type VerifiedBundle,
  type VerifiedHeader,
} from '../../bundle/index.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import type { Layout } from '../layout.js';
import { faultPoint } from '../test-hooks.js';

/** Thrown from onHeader to stop readBundle once the metadata is verified. */
class HeaderRead extends Error {}

/** Verifies the signatures and expiry and returns the manifest, reading only the first two entries. */
export async function readVerifiedHeader(file: string, trust: TrustPolicy): Promise<VerifiedHeader> {
  let header: VerifiedHeader | undefined;
  try {
    await readBundle(file, {
      trust,
      onHeader: (verified) => {
        header = verified;
        throw new HeaderRead();
      },
    });
  } catch (error) {
    if (!(error instanceof HeaderRead)) throw error;
  }
  if (!header) throw new Error('readBundle returned without verifying the header');
  return header;
}

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

export async function extractRelease(file: string, layout: Layout, options: ExtractReleaseOptions): Promise<VerifiedBundle> {
  const { expected } = options;
  let bundle: VerifiedBundle;
  try {
    bundle = await extractBundle(file, {
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
  } catch (error) {
    // extractBundle reports a failure of our onHeader as BUNDLE_IO; give back our own error.
    if (error instanceof BundleError && error.code === BundleErrorCodes.IO && error.cause instanceof InstallError) throw error.cause;
    throw error;
  }
  // extractBundle's staging folder (now the release) is mkdtemp's 0700; a release is
  // readable like /usr, so status and doctor work without root.
  await chmod(layout.release(expected.manifest.version), 0o755);
  return bundle;
}
