/**
 * The verification core: decides whether a bundle's metadata is trusted and
 * whether each payload entry is exactly what the manifest lists. Pure: it
 * imports no fs, tar or network; the streaming reader feeds it.
 */
import { createHash } from 'node:crypto';
import { BundleErrorCodes, BundleFormatError, BundlePayloadError, BundleTrustError } from './errors.js';
import { parseManifest, totalPayloadBytes, type Manifest, type ManifestFile } from './manifest.js';
import { unsafePathReason } from './paths.js';
import { parseSignatureFile, verifyManifestSignatures, type SignatureCheck, type TrustPolicy } from './signatures.js';

export interface VerifiedHeader {
  manifest: Manifest;
  /** SHA-256 of the exact manifest bytes: the bundle's identity. */
  manifestSha256: string;
  signatures: SignatureCheck;
  payloadBytes: number;
}

export interface HeaderCheckOptions {
  now: Date;
}

/** Verifies signatures first, then expiry. */
export function verifyHeader(
  manifestBytes: Uint8Array,
  signatureBytes: Uint8Array,
  trust: TrustPolicy,
  options: HeaderCheckOptions,
): VerifiedHeader {
  const signatureFile = parseSignatureFile(signatureBytes);
  // The manifest is parsed before the signature check only to learn its
  // threshold; nothing in it is acted on until the signatures verify.
  const manifest = parseManifest(manifestBytes);
  const signatures = verifyManifestSignatures(manifestBytes, signatureFile, trust, manifest.threshold, options.now);
  if (options.now.getTime() >= Date.parse(manifest.expires)) {
    throw new BundleTrustError(BundleErrorCodes.EXPIRED, `bundle ${manifest.name} ${manifest.version} expired on ${manifest.expires}`, {
      hint: 'Build and sign a fresh bundle; expired bundles are never installed.',
      details: { expires: manifest.expires },
    });
  }
  return {
    manifest,
    manifestSha256: createHash('sha256').update(manifestBytes).digest('hex'),
    signatures,
    payloadBytes: totalPayloadBytes(manifest),
  };
}

const REGULAR_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

export interface EntryHeader {
  path: string;
  /** tar's entry type name (File, Directory, SymbolicLink, Link, ...). */
  type: string;
  size: number;
}

/**
 * Walks the payload entries in archive order against the manifest's list:
 * each entry must be the next listed file, a regular file of the listed size,
 * whose bytes hash to the listed SHA-256.
 */
export class PayloadChecker {
  private next = 0;
  private readonly index = new Map<string, number>();

  constructor(private readonly manifest: Manifest) {
    manifest.files.forEach((file, i) => this.index.set(file.path, i));
  }

  get files(): readonly ManifestFile[] {
    return this.manifest.files;
  }

  /** Checks an entry's header before any of its bytes are used. */
  begin(entry: EntryHeader): ManifestFile {
    const reason = unsafePathReason(entry.path);
    if (reason) {
      throw new BundlePayloadError(BundleErrorCodes.PATH_UNSAFE, `unsafe entry path ${JSON.stringify(entry.path)}: ${reason}`, {
        details: { path: entry.path },
      });
    }
    if (!REGULAR_TYPES.has(entry.type)) {
      throw new BundlePayloadError(BundleErrorCodes.ENTRY_TYPE, `entry ${entry.path} is a ${entry.type}; only regular files are allowed`, {
        details: { path: entry.path, type: entry.type },
      });
    }
    const position = this.index.get(entry.path);
    if (position === undefined) {
      throw new BundlePayloadError(BundleErrorCodes.ENTRY_UNLISTED, `entry ${entry.path} is not listed in the manifest`, {
        details: { path: entry.path },
      });
    }
    if (position < this.next) {
      throw new BundlePayloadError(BundleErrorCodes.ENTRY_DUPLICATE, `entry ${entry.path} appears more than once`, {
        details: { path: entry.path },
      });
    }
    const expected = this.manifest.files[this.next]!;
    if (position > this.next) {
      throw new BundlePayloadError(BundleErrorCodes.ENTRY_ORDER, `entry ${entry.path} comes before ${expected.path}, against the manifest's order`, {
        details: { path: entry.path, expected: expected.path },
      });
    }
    if (entry.size !== expected.size) {
      throw new BundlePayloadError(BundleErrorCodes.SIZE_MISMATCH, `entry ${entry.path} is ${entry.size} bytes, the manifest says ${expected.size}`, {
        details: { path: entry.path, size: entry.size, expected: expected.size },
      });
    }
    this.next++;
    return expected;
  }

  /** Checks an entry's content once all its bytes went through. */
  finish(file: ManifestFile, bytesSeen: number, sha256: string): void {
    if (bytesSeen !== file.size) {
      throw new BundleFormatError(BundleErrorCodes.TRUNCATED, `entry ${file.path} ended after ${bytesSeen} of ${file.size} bytes`, {
        hint: 'The bundle file is incomplete; copy it again.',
        details: { path: file.path },
      });
    }
    if (sha256 !== file.sha256) {
      throw new BundlePayloadError(BundleErrorCodes.DIGEST_MISMATCH, `entry ${file.path} does not match its SHA-256 in the manifest`, {
        hint: 'The bundle was modified or damaged in transit. Do not use it.',
        details: { path: file.path, sha256, expected: file.sha256 },
      });
    }
  }

  /** At the end of the archive: every listed file must have been seen. */
  end(): void {
    const missing = this.manifest.files[this.next];
    if (missing) {
      throw new BundlePayloadError(BundleErrorCodes.ENTRY_MISSING, `listed file ${missing.path} is missing from the archive`, {
        details: { path: missing.path, missing: this.manifest.files.length - this.next },
      });
    }
  }
}
