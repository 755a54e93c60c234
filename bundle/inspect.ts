/**
 * Reads a bundle's manifest and signature list WITHOUT verifying anything:
 * for looking at a bundle before trust material is at hand. Only the first
 * two entries are read.
 */
import { X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { BundleErrorCodes, BundleFormatError } from './errors.js';
import { MAX_MANIFEST_BYTES, MAX_SIGNATURE_FILE_BYTES, parseManifest, totalPayloadBytes, type Manifest } from './manifest.js';
import { MANIFEST_NAME, SIGNATURE_NAME } from './paths.js';
import { parseSignatureFile } from './signatures.js';
import { readTarEntries } from './tar-entries.js';

export interface InspectResult {
  verified: false;
  file: string;
  bundleBytes: number;
  payloadBytes: number;
  manifest: Manifest;
  signatures: Array<{ alg: string; keyid: string; subject: string; issuer: string; notAfter: string }>;
}

async function collect(entry: { path: string; size: number; pipe: (f: (c: Buffer) => void) => Promise<number> } | undefined, name: string, limit: number): Promise<Buffer> {
  if (!entry || entry.path !== name) {
    throw new BundleFormatError(BundleErrorCodes.LAYOUT, `expected ${name}, found ${entry ? JSON.stringify(entry.path) : 'nothing'}`);
  }
  if (entry.size > limit) throw new BundleFormatError(BundleErrorCodes.MANIFEST_TOO_LARGE, `${name} is over ${limit} bytes`);
  const chunks: Buffer[] = [];
  await entry.pipe((c) => void chunks.push(c));
  return Buffer.concat(chunks);
}

function describe(pem: string): { subject: string; issuer: string; notAfter: string } {
  try {
    const cert = new X509Certificate(pem);
    return { subject: cert.subject.replaceAll('\n', ', '), issuer: cert.issuer.replaceAll('\n', ', '), notAfter: cert.validTo };
  } catch {
    return { subject: '(unparseable certificate)', issuer: '', notAfter: '' };
  }
}

export async function inspectBundle(file: string): Promise<InspectResult> {
  const bundleBytes = (await stat(file)).size;
  const entries = readTarEntries(file);
  try {
    const manifestBytes = await collect((await entries.next()).value || undefined, MANIFEST_NAME, MAX_MANIFEST_BYTES);
    const signatureBytes = await collect((await entries.next()).value || undefined, SIGNATURE_NAME, MAX_SIGNATURE_FILE_BYTES);
    const manifest = parseManifest(manifestBytes);
    const signatures = parseSignatureFile(signatureBytes).signatures.map((s) => ({
      alg: s.alg,
      keyid: s.keyid,
      ...describe(s.chain[0] ?? ''),
    }));
    return { verified: false, file, bundleBytes, payloadBytes: totalPayloadBytes(manifest), manifest, signatures };
  } finally {
    await entries.return(undefined);
  }
}
