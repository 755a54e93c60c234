/**
 * Key files on disk: `keys init` (root + first signer), `keys issue` (another
 * signer) and `keys revoke` (the signed revocation list). Private keys are
 * written 0600 and never overwritten.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import forge from 'node-forge';
import { BundleErrorCodes, BundleInputError } from './errors.js';
import {
  certificateFingerprint,
  createRootCertificate,
  generateKeyPair,
  issueSigner,
  keyMatchesCertificate,
  parseTrustedRoot,
} from './pki.js';
import { REVOCATION_FORMAT, signRevocationList, verifyRevocationList, type RevocationPayload } from './revocation.js';

export interface KeyFiles {
  key: string;
  certificate: string;
}

export interface InitKeysResult {
  root: KeyFiles & { fingerprint: string };
  signer: KeyFiles & { fingerprint: string };
}

async function writeNew(path: string, contents: string, mode: number): Promise<void> {
  try {
    await writeFile(path, contents, { mode, flag: 'wx' });
  } catch (cause) {
    const exists = (cause as NodeJS.ErrnoException).code === 'EEXIST';
    throw new BundleInputError(BundleErrorCodes.KEY_INVALID, exists ? `${path} already exists` : `cannot write ${path}`, {
      cause,
      hint: exists ? 'Keys are never overwritten: choose another --out folder or --name.' : 'Check the --out folder.',
    });
  }
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new BundleInputError(BundleErrorCodes.KEY_INVALID, `cannot read ${what} ${path}`, { cause });
  }
}

export async function loadIssuer(keyPath: string, certPath: string): Promise<{ keyPem: string; certPem: string }> {
  const keyPem = await readKeyFile(keyPath, 'key');
  const certPem = await readKeyFile(certPath, 'certificate');
  if (!keyMatchesCertificate(keyPem, certPem)) {
    throw new BundleInputError(BundleErrorCodes.KEY_INVALID, `${keyPath} is not the key of ${certPath}`, {
      hint: 'Pass the root key together with its own certificate.',
    });
  }
  return { keyPem, certPem };
}

export async function initKeys(
  outDir: string,
  options: { rootName: string; signerName: string; rootDays: number; signerDays: number },
): Promise<InitKeysResult> {
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const root = generateKeyPair();
  const rootCert = createRootCertificate(root.privateKeyPem, { commonName: options.rootName, days: options.rootDays });
  const signer = issueSigner(root.privateKeyPem, rootCert, { commonName: options.signerName, days: options.signerDays });
  const files = {
    root: { key: join(outDir, 'root.key'), certificate: join(outDir, 'root.crt') },
    signer: { key: join(outDir, 'signer.key'), certificate: join(outDir, 'signer.crt') },
  };
  await writeNew(files.root.key, root.privateKeyPem, 0o600);
  await writeNew(files.root.certificate, rootCert, 0o644);
  await writeNew(files.signer.key, signer.privateKeyPem, 0o600);
  await writeNew(files.signer.certificate, signer.certificatePem, 0o644);
  return {
    root: { ...files.root, fingerprint: certificateFingerprint(rootCert) },
    signer: { ...files.signer, fingerprint: certificateFingerprint(signer.certificatePem) },
  };
}

export async function issueKeys(options: {
  rootKey: string;
  rootCert: string;
  commonName: string;
  days: number;
  outDir: string;
  name: string;
}): Promise<KeyFiles & { fingerprint: string }> {
  const issuer = await loadIssuer(options.rootKey, options.rootCert);
  const signer = issueSigner(issuer.keyPem, issuer.certPem, { commonName: options.commonName, days: options.days });
  await mkdir(options.outDir, { recursive: true, mode: 0o700 });
  const files = { key: join(options.outDir, `${options.name}.key`), certificate: join(options.outDir, `${options.name}.crt`) };
  await writeNew(files.key, signer.privateKeyPem, 0o600);
  await writeNew(files.certificate, signer.certificatePem, 0o644);
  return { ...files, fingerprint: certificateFingerprint(signer.certificatePem) };
}

export async function revokeSigner(options: {
  rootKey: string;
  rootCert: string;
  signerCert: string;
  list: string;
  reason: string;
  now?: Date;
}): Promise<{ list: string; revoked: number; fingerprint: string }> {
  const issuer = await loadIssuer(options.rootKey, options.rootCert);
  const root = parseTrustedRoot(issuer.certPem);
  const signerPem = await readKeyFile(options.signerCert, 'certificate');
  let signer: X509Certificate;
  let serial: string;
  try {
    signer = new X509Certificate(signerPem);
    serial = forge.pki.certificateFromPem(signerPem).serialNumber.toLowerCase();
  } catch (cause) {
    throw new BundleInputError(BundleErrorCodes.KEY_INVALID, `${options.signerCert} is not a certificate`, { cause });
  }
  const now = (options.now ?? new Date()).toISOString();
  let payload: RevocationPayload = { format: REVOCATION_FORMAT, issuer: root.fingerprint, updated: now, entries: [] };
  const existing = await readFile(options.list).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing) payload = verifyRevocationList(existing, [root]);
  const fingerprint = certificateFingerprint(signerPem);
  if (!payload.entries.some((e) => e.fingerprint === fingerprint)) {
    payload.entries.push({ fingerprint, serial, subject: signer.subject.replaceAll('\n', ', '), reason: options.reason, revokedAt: now });
  }
  payload.updated = now;
  await mkdir(dirname(options.list), { recursive: true });
  const partial = `${options.list}.partial`;
  await writeFile(partial, signRevocationList(payload, issuer.keyPem), { mode: 0o644 });
  await rename(partial, options.list);
  return { list: options.list, revoked: payload.entries.length, fingerprint };
}
