/**
 * Loads trust material from disk: `--trust` names a root certificate file or
 * a folder of them (CA certificates only; a signer certificate lying in the
 * folder is never taken for a root) plus an optional `revocations.json`.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleErrorCodes, BundleTrustError } from './errors.js';
import { parseTrustedRoot, splitPemCertificates, type TrustedRoot } from './pki.js';
import { RevocationSet, verifyRevocationList } from './revocation.js';
import type { TrustPolicy } from './signatures.js';

export const REVOCATION_LIST_FILE = 'revocations.json';
const CERT_FILE = /\.(crt|pem)$/;

export interface LoadTrustOptions {
  /** Extra revocation list files besides the one in a trust folder. */
  revocationLists?: string[];
  minimumThreshold?: number;
}

export interface LoadedTrust extends TrustPolicy {
  /** Files in a trust folder that were skipped because they are not CAs. */
  skipped: string[];
}

function trustError(message: string, cause?: unknown): BundleTrustError {
  return new BundleTrustError(BundleErrorCodes.TRUST_INVALID, message, {
    cause,
    hint: 'Pass --trust the root.crt made by `airlock keys init` (or a folder of root certificates).',
  });
}

function isCaCertificate(root: TrustedRoot): boolean {
  return root.x509.ca;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw trustError(`cannot read trust file ${path}`, cause);
  }
}

function rootsFrom(text: string, source: string): TrustedRoot[] {
  const pems = splitPemCertificates(text);
  if (pems.length === 0) throw trustError(`${source} holds no PEM certificate`);
  return pems.map((pem) => {
    try {
      return parseTrustedRoot(pem);
    } catch (cause) {
      throw trustError(`${source} holds an unusable certificate`, cause);
    }
  });
}

export async function loadTrust(location: string, options: LoadTrustOptions = {}): Promise<LoadedTrust> {
  const info = await stat(location).catch((cause: unknown) => {
    throw trustError(`trust location ${location} does not exist`, cause);
  });
  const roots: TrustedRoot[] = [];
  const skipped: string[] = [];
  const lists = [...(options.revocationLists ?? [])];
  if (info.isDirectory()) {
    for (const name of (await readdir(location)).sort()) {
      const path = join(location, name);
      if (name === REVOCATION_LIST_FILE) lists.push(path);
      if (!CERT_FILE.test(name)) continue;
      for (const root of rootsFrom(await readText(path), path)) {
        if (isCaCertificate(root)) roots.push(root);
        else skipped.push(path);
      }
    }
    if (roots.length === 0) throw trustError(`no root CA certificate in ${location}`);
  } else {
    for (const root of rootsFrom(await readText(location), location)) {
      if (!isCaCertificate(root)) throw trustError(`${location} is not a CA certificate; pass the root, not a signer`);
      roots.push(root);
    }
  }
  const revocations = new RevocationSet();
  for (const list of lists) {
    let bytes: Buffer;
    try {
      bytes = await readFile(list);
    } catch (cause) {
      throw trustError(`cannot read revocation list ${list}`, cause);
    }
    revocations.add(verifyRevocationList(bytes, roots));
  }
  return { roots, revocations, skipped, ...(options.minimumThreshold ? { minimumThreshold: options.minimumThreshold } : {}) };
}
