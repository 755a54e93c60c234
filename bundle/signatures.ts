/**
 * manifest.sig.json: detached RSA-PSS/SHA-256 signatures over the exact bytes
 * of manifest.json, each with the signer's certificate chain. Verification
 * counts distinct trusted signer keys against a threshold. Pure.
 */
import { constants, createPrivateKey, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { BundleError, BundleErrorCodes, BundleFormatError, BundleInputError, BundleTrustError } from './errors.js';
import { MAX_SIGNATURE_FILE_BYTES } from './manifest.js';
import { keyIdOf, keyMatchesCertificate, splitPemCertificates, verifySignerChain, type TrustedRoot, type VerifiedSigner } from './pki.js';
import type { RevocationSet } from './revocation.js';

export const SIGNATURE_ALG = 'rsa-pss-sha256';
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
const MAX_SIGNATURES = 32;

const SignatureEntrySchema = z.strictObject({
  alg: z.string().max(64),
  keyid: z.string().max(128),
  sig: z.string().max(4096).regex(/^[A-Za-z0-9+/]+={0,2}$/),
  chain: z.array(z.string().max(16 * 1024)).min(1).max(5),
});

export const SignatureFileSchema = z.strictObject({
  signatures: z.array(SignatureEntrySchema).min(1).max(MAX_SIGNATURES),
});

export type SignatureFile = z.infer<typeof SignatureFileSchema>;
export type SignatureEntry = z.infer<typeof SignatureEntrySchema>;

export interface SigningIdentity {
  privateKeyPem: string;
  /** Signer certificate first, then any intermediates (not the root). */
  certificatePems: string[];
}

export function signManifest(manifestBytes: Uint8Array, signers: SigningIdentity[]): SignatureFile {
  if (signers.length === 0) {
    throw new BundleInputError(BundleErrorCodes.KEY_INVALID, 'at least one signer is needed', {
      hint: 'Pass --signer-key and --signer-cert.',
    });
  }
  const signatures = signers.map((signer, i) => {
    const leaf = signer.certificatePems[0];
    if (!leaf || !keyMatchesCertificate(signer.privateKeyPem, leaf)) {
      throw new BundleInputError(BundleErrorCodes.KEY_INVALID, `signer ${i + 1}: the key does not match its certificate`, {
        hint: 'Pair each --signer-key with the --signer-cert issued for it, in the same order.',
      });
    }
    const key = createPrivateKey(signer.privateKeyPem);
    return {
      alg: SIGNATURE_ALG,
      keyid: keyIdOf(leaf),
      sig: sign('sha256', manifestBytes, { key, ...PSS }).toString('base64'),
      chain: signer.certificatePems,
    };
  });
  return { signatures };
}

export function encodeSignatureFile(file: SignatureFile): Buffer {
  return Buffer.from(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
}

export function parseSignatureFile(bytes: Uint8Array): SignatureFile {
  const fail = (message: string, cause?: unknown): BundleFormatError =>
    new BundleFormatError(BundleErrorCodes.SIGNATURE_FILE_INVALID, `manifest.sig.json is invalid: ${message}`, {
      cause,
      hint: 'Rebuild the bundle with `airlock bundle create`.',
    });
  if (bytes.byteLength > MAX_SIGNATURE_FILE_BYTES) throw fail('too large');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw fail('not UTF-8 JSON', cause);
  }
  const parsed = SignatureFileSchema.safeParse(json);
  if (!parsed.success) throw fail(parsed.error.issues[0]?.message ?? 'schema mismatch');
  return parsed.data;
}

export interface TrustPolicy {
  roots: TrustedRoot[];
  revocations: RevocationSet;
  /** Lowest number of distinct signers accepted, whatever the manifest says. */
  minimumThreshold?: number;
}

export interface SignatureCheck {
  signers: VerifiedSigner[];
  rejected: Array<{ keyid: string; code: string; message: string }>;
  threshold: number;
}

function checkOne(manifestBytes: Uint8Array, entry: SignatureEntry, trust: TrustPolicy, now: Date): VerifiedSigner {
  if (entry.alg !== SIGNATURE_ALG) {
    throw new BundleTrustError(BundleErrorCodes.SIGNATURE_INVALID, `unsupported signature algorithm ${entry.alg}`, {
      hint: `Airlock accepts ${SIGNATURE_ALG} only.`,
    });
  }
  const chain = entry.chain.flatMap(splitPemCertificates);
  if (chain.length !== entry.chain.length) {
    throw new BundleTrustError(BundleErrorCodes.SIGNER_UNTRUSTED, 'a chain entry is not one PEM certificate');
  }
  const { publicKey, ...signer } = verifySignerChain(chain, trust.roots, now);
  if (!verify('sha256', manifestBytes, { key: publicKey, ...PSS }, Buffer.from(entry.sig, 'base64'))) {
    throw new BundleTrustError(
      BundleErrorCodes.SIGNATURE_INVALID,
      `the signature by ${signer.subject} does not match manifest.json`,
      { hint: 'The manifest was changed after signing, or the signature is damaged. Do not use this bundle.' },
    );
  }
  const revoked = trust.revocations.find(signer);
  if (revoked) {
    throw new BundleTrustError(
      BundleErrorCodes.SIGNER_REVOKED,
      `signer ${signer.subject} was revoked on ${revoked.revokedAt}: ${revoked.reason}`,
      { hint: 'Sign the bundle again with a signer that is not revoked.', details: { fingerprint: signer.fingerprint } },
    );
  }
  return signer;
}

/**
 * Verifies every signature over `manifestBytes` and demands at least
 * `threshold` distinct trusted signer keys. When nothing verifies and every
 * signature failed for the same reason, that reason's error is thrown, so a
 * single-signer bundle reports exactly what is wrong.
 */
export function verifyManifestSignatures(
  manifestBytes: Uint8Array,
  signatureFile: SignatureFile,
  trust: TrustPolicy,
  manifestThreshold: number,
  now: Date,
): SignatureCheck {
  const threshold = Math.max(manifestThreshold, trust.minimumThreshold ?? 1);
  const signers = new Map<string, VerifiedSigner>();
  const failures: BundleError[] = [];
  const rejected: SignatureCheck['rejected'] = [];
  for (const entry of signatureFile.signatures) {
    try {
      const signer = checkOne(manifestBytes, entry, trust, now);
      if (!signers.has(signer.keyId)) signers.set(signer.keyId, signer);
    } catch (error) {
      if (!(error instanceof BundleError)) throw error;
      failures.push(error);
      rejected.push({ keyid: entry.keyid, code: error.code, message: error.message });
    }
  }
  if (signers.size >= threshold) return { signers: [...signers.values()], rejected, threshold };
  const codes = new Set(failures.map((f) => f.code));
  if (signers.size === 0 && codes.size === 1) throw failures[0]!;
  throw new BundleTrustError(
    BundleErrorCodes.THRESHOLD_NOT_MET,
    `${signers.size} distinct trusted signer(s), ${threshold} required`,
    {
      hint: 'Have more trusted signers sign the bundle (repeat --signer-key/--signer-cert).',
      details: { valid: signers.size, threshold, rejected },
    },
  );
}
