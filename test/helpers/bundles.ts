/**
 * Test fixtures for bundles: a throwaway PKI (root, signers, and the bad
 * signers the corpus needs) and hand-assembled signed bundles whose payload
 * can be anything, so each attack is one table row.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MANIFEST_FORMAT,
  MANIFEST_NAME,
  SIGNATURE_NAME,
  createRootCertificate,
  encodeManifest,
  generateKeyPair,
  issueSigner,
  issueSignerCertificate,
  signManifest,
  type IssuedIdentity,
  type Manifest,
  type SigningIdentity,
} from '../../bundle/index.js';
import { rawTar, type RawEntry } from './raw-tar.js';

const DAY = 86_400_000;

export interface TestPki {
  rootKeyPem: string;
  rootCertPem: string;
  /** A folder holding only root.crt: pass as --trust. */
  trustDir: string;
  rootCertPath: string;
  signers: [IssuedIdentity, IssuedIdentity, IssuedIdentity];
  /** Chains to a root nobody trusts. */
  stranger: IssuedIdentity;
  expired: IssuedIdentity;
  notYetValid: IssuedIdentity;
  noSigningUsage: IssuedIdentity;
}

export function identity(issued: IssuedIdentity): SigningIdentity {
  return { privateKeyPem: issued.privateKeyPem, certificatePems: [issued.certificatePem] };
}

export async function makeTestPki(dir: string): Promise<TestPki> {
  const root = generateKeyPair();
  const rootCertPem = createRootCertificate(root.privateKeyPem, { commonName: 'Test Root', days: 30 });
  const issue = (commonName: string, extra: Partial<Parameters<typeof issueSigner>[2]> = {}): IssuedIdentity =>
    issueSigner(root.privateKeyPem, rootCertPem, { commonName, days: 30, ...extra });

  const strangerRoot = generateKeyPair();
  const strangerRootCert = createRootCertificate(strangerRoot.privateKeyPem, { commonName: 'Test Root', days: 30 });
  const strangerKey = generateKeyPair();
  const stranger: IssuedIdentity = {
    ...strangerKey,
    certificatePem: issueSignerCertificate(strangerRoot.privateKeyPem, strangerRootCert, strangerKey.publicKeyPem, {
      commonName: 'Stranger',
      days: 30,
    }),
  };

  const trustDir = join(dir, 'trust');
  await mkdir(trustDir, { recursive: true });
  const rootCertPath = join(trustDir, 'root.crt');
  await writeFile(rootCertPath, rootCertPem);
  return {
    rootKeyPem: root.privateKeyPem,
    rootCertPem,
    trustDir,
    rootCertPath,
    signers: [issue('Signer A'), issue('Signer B'), issue('Signer C')],
    stranger,
    expired: issue('Expired', { notBefore: new Date(Date.now() - 10 * DAY), days: 5 }),
    notYetValid: issue('Future', { notBefore: new Date(Date.now() + 5 * DAY), days: 5 }),
    noSigningUsage: issue('No Usage', { keyUsage: { digitalSignature: false } }),
  };
}

export interface PayloadFile {
  path: string;
  body: Buffer;
  mode?: number;
}

export function manifestFor(files: PayloadFile[], overrides: Partial<Manifest> = {}): Manifest {
  const now = Date.now();
  return {
    format: MANIFEST_FORMAT,
    name: 'test',
    version: '1.0.0',
    sequence: 1,
    created: new Date(now - 60_000).toISOString(),
    expires: new Date(now + DAY).toISOString(),
    threshold: 1,
    components: [],
    files: files.map((f) => ({
      path: f.path,
      size: f.body.length,
      sha256: createHash('sha256').update(f.body).digest('hex'),
      mode: f.mode ?? 0o644,
    })),
    ...overrides,
  };
}

export interface SignedMetadata {
  manifestBytes: Buffer;
  signatureBytes: Buffer;
}

export function signedMetadata(manifest: Manifest, signers: SigningIdentity[]): SignedMetadata {
  const manifestBytes = encodeManifest(manifest);
  const signatureBytes = Buffer.from(`${JSON.stringify(signManifest(manifestBytes, signers), null, 2)}\n`);
  return { manifestBytes, signatureBytes };
}

export function metadataEntries(meta: SignedMetadata): RawEntry[] {
  return [
    { path: MANIFEST_NAME, body: meta.manifestBytes },
    { path: SIGNATURE_NAME, body: meta.signatureBytes },
  ];
}

/** A bundle whose manifest is signed by `signers` and whose payload is `entries` verbatim. */
export function craftBundle(manifest: Manifest, signers: SigningIdentity[], entries: RawEntry[], options: { endMarker?: boolean } = {}): Buffer {
  return rawTar([...metadataEntries(signedMetadata(manifest, signers)), ...entries], options);
}

/** A well-formed bundle of `files` (the baseline the corpus mutates). */
export function validBundle(files: PayloadFile[], signers: SigningIdentity[], overrides: Partial<Manifest> = {}): Buffer {
  return craftBundle(
    manifestFor(files, overrides),
    signers,
    files.map((f) => ({ path: f.path, body: f.body, mode: f.mode ?? 0o644 })),
  );
}
