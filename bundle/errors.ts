/**
 * Typed errors of the bundle module. Every failure carries a stable `code`
 * (part of the public interface: documented in the README, printed by the
 * CLI, asserted by tests) and a hint that says what to do next.
 */

export const BundleErrorCodes = {
  /** The file is not a POSIX tar archive at all. */
  NOT_TAR: 'BUNDLE_NOT_TAR',
  /** The archive ends before its end-of-archive marker or inside an entry. */
  TRUNCATED: 'BUNDLE_TRUNCATED',
  /** The tar structure is damaged (bad header checksum, oversized pax header). */
  MALFORMED: 'BUNDLE_MALFORMED',
  /** manifest.json and manifest.sig.json are not the first two entries. */
  LAYOUT: 'BUNDLE_LAYOUT',
  /** manifest.json is larger than the limit. */
  MANIFEST_TOO_LARGE: 'BUNDLE_MANIFEST_TOO_LARGE',
  /** manifest.json is not valid JSON or does not match the schema. */
  MANIFEST_INVALID: 'BUNDLE_MANIFEST_INVALID',
  /** manifest.sig.json is not valid JSON or does not match the schema. */
  SIGNATURE_FILE_INVALID: 'BUNDLE_SIGNATURE_FILE_INVALID',
  /** A signature does not match the manifest bytes. */
  SIGNATURE_INVALID: 'BUNDLE_SIGNATURE_INVALID',
  /** A signer's chain does not lead to a trusted root. */
  SIGNER_UNTRUSTED: 'BUNDLE_SIGNER_UNTRUSTED',
  /** A certificate in a signer's chain has expired. */
  CERT_EXPIRED: 'BUNDLE_CERT_EXPIRED',
  /** A certificate in a signer's chain is not valid yet. */
  CERT_NOT_YET_VALID: 'BUNDLE_CERT_NOT_YET_VALID',
  /** A signer certificate lacks the digitalSignature key usage (or is a CA). */
  CERT_KEY_USAGE: 'BUNDLE_CERT_KEY_USAGE',
  /** A certificate uses a weak key or an unsupported algorithm. */
  CERT_WEAK: 'BUNDLE_CERT_WEAK',
  /** A signer certificate is on the revocation list. */
  SIGNER_REVOKED: 'BUNDLE_SIGNER_REVOKED',
  /** Fewer distinct trusted signers than the threshold. */
  THRESHOLD_NOT_MET: 'BUNDLE_THRESHOLD_NOT_MET',
  /** The bundle is past its `expires` time. */
  EXPIRED: 'BUNDLE_EXPIRED',
  /** A payload entry is not listed in the manifest. */
  ENTRY_UNLISTED: 'BUNDLE_ENTRY_UNLISTED',
  /** A listed payload file is missing from the archive. */
  ENTRY_MISSING: 'BUNDLE_ENTRY_MISSING',
  /** A payload entry appears twice. */
  ENTRY_DUPLICATE: 'BUNDLE_ENTRY_DUPLICATE',
  /** A payload entry is out of the manifest's order. */
  ENTRY_ORDER: 'BUNDLE_ENTRY_ORDER',
  /** An absolute path, `..`, or otherwise unsafe path. */
  PATH_UNSAFE: 'BUNDLE_PATH_UNSAFE',
  /** A symlink, hardlink, device, fifo or other non-regular entry. */
  ENTRY_TYPE: 'BUNDLE_ENTRY_TYPE',
  /** A payload entry's size differs from the manifest. */
  SIZE_MISMATCH: 'BUNDLE_SIZE_MISMATCH',
  /** A payload entry's SHA-256 differs from the manifest. */
  DIGEST_MISMATCH: 'BUNDLE_DIGEST_MISMATCH',
  /** The declared payload does not fit in the free space at the target. */
  DISK_SPACE: 'BUNDLE_DISK_SPACE',
  /** The disk filled up during extraction. */
  DISK_FULL: 'BUNDLE_DISK_FULL',
  /** The extraction target already exists and is not empty. */
  TARGET_EXISTS: 'BUNDLE_TARGET_EXISTS',
  /** The trust material (root certificates, revocation list) is unusable. */
  TRUST_INVALID: 'BUNDLE_TRUST_INVALID',
  /** The image recipe (image.yaml or its files) is invalid. */
  IMAGE_INVALID: 'BUNDLE_IMAGE_INVALID',
  /** A key or certificate file is unusable. */
  KEY_INVALID: 'BUNDLE_KEY_INVALID',
  /** Reading or writing a file failed. */
  IO: 'BUNDLE_IO',
} as const;

export type BundleErrorCode = (typeof BundleErrorCodes)[keyof typeof BundleErrorCodes];

export interface BundleErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Extra machine-readable facts (entry path, signer, expected values). */
  details?: Record<string, unknown>;
}

export class BundleError extends Error {
  readonly code: BundleErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: BundleErrorCode, message: string, options: BundleErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }
}

/** The archive itself is damaged or is not a bundle. */
export class BundleFormatError extends BundleError {}

/** Signatures, certificates, trust or expiry rejected the bundle. */
export class BundleTrustError extends BundleError {}

/** A payload entry does not match the manifest. */
export class BundlePayloadError extends BundleError {}

/** The host cannot take the bundle (disk space, target in the way, I/O). */
export class BundleEnvironmentError extends BundleError {}

/** Input given on the build side (image recipe, keys) is unusable. */
export class BundleInputError extends BundleError {}
