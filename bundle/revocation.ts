/**
 * The signer revocation list: a JSON document signed by the root it belongs
 * to, so it can travel across the air gap beside the bundles. Pure.
 */
import { createPublicKey, sign, verify, constants } from 'node:crypto';
import { z } from 'zod';
import { BundleErrorCodes, BundleTrustError } from './errors.js';
import type { TrustedRoot } from './pki.js';

export const REVOCATION_FORMAT = 'airlock-revocations/1';
export const MAX_REVOCATION_LIST_BYTES = 4 * 1024 * 1024;

const RevokedEntrySchema = z.strictObject({
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  serial: z.string().regex(/^[0-9a-f]{1,64}$/),
  subject: z.string().max(1024),
  reason: z.string().max(1024),
  revokedAt: z.iso.datetime({ offset: true }),
});

const RevocationPayloadSchema = z.strictObject({
  format: z.literal(REVOCATION_FORMAT),
  issuer: z.string().regex(/^[0-9a-f]{64}$/),
  updated: z.iso.datetime({ offset: true }),
  entries: z.array(RevokedEntrySchema).max(100_000),
});

const SignedListSchema = z.strictObject({
  payload: z.string(),
  signature: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/),
});

export type RevokedEntry = z.infer<typeof RevokedEntrySchema>;
export type RevocationPayload = z.infer<typeof RevocationPayloadSchema>;

const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

function invalidList(message: string, cause?: unknown): BundleTrustError {
  return new BundleTrustError(BundleErrorCodes.TRUST_INVALID, `revocation list: ${message}`, {
    cause,
    hint: 'Rebuild it with `airlock keys revoke` using the root key it belongs to.',
  });
}

export function signRevocationList(payload: RevocationPayload, rootKeyPem: string): Buffer {
  const text = JSON.stringify(payload);
  const signature = sign('sha256', Buffer.from(text), { key: rootKeyPem, ...PSS }).toString('base64');
  return Buffer.from(`${JSON.stringify({ payload: text, signature }, null, 2)}\n`);
}

/** Parses a signed list and checks its signature against the root it names. */
export function verifyRevocationList(bytes: Uint8Array, roots: TrustedRoot[]): RevocationPayload {
  if (bytes.byteLength > MAX_REVOCATION_LIST_BYTES) throw invalidList('file is too large');
  let outer: z.infer<typeof SignedListSchema>;
  let payload: RevocationPayload;
  try {
    outer = SignedListSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
    payload = RevocationPayloadSchema.parse(JSON.parse(outer.payload));
  } catch (cause) {
    throw invalidList('not a valid revocation list', cause);
  }
  const root = roots.find((r) => r.fingerprint === payload.issuer);
  if (!root) throw invalidList(`issued by ${payload.issuer}, which is not a trusted root`);
  const key = createPublicKey(root.pem);
  if (!verify('sha256', Buffer.from(outer.payload), { key, ...PSS }, Buffer.from(outer.signature, 'base64'))) {
    throw invalidList('signature does not verify');
  }
  return payload;
}

/** Answers "is this signer revoked?" across every verified list. */
export class RevocationSet {
  private readonly byFingerprint = new Map<string, RevokedEntry>();
  private readonly bySerial = new Map<string, RevokedEntry>();

  add(list: RevocationPayload): void {
    for (const entry of list.entries) {
      this.byFingerprint.set(entry.fingerprint, entry);
      this.bySerial.set(`${list.issuer}:${entry.serial}`, entry);
    }
  }

  find(signer: { fingerprint: string; serial: string; root: string }): RevokedEntry | undefined {
    return this.byFingerprint.get(signer.fingerprint) ?? this.bySerial.get(`${signer.root}:${signer.serial}`);
  }

  get size(): number {
    return this.byFingerprint.size;
  }
}
