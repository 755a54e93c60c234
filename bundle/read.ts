/**
 * The one streaming pass over a bundle: metadata first (signatures, expiry),
 * then every payload entry checked and hashed as it streams to an optional
 * sink. Used by `verify` (no sink) and `extract` (a staging-folder sink).
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { BundleErrorCodes, BundleFormatError } from './errors.js';
import { MAX_MANIFEST_BYTES, MAX_SIGNATURE_FILE_BYTES, type ManifestFile } from './manifest.js';
import { MANIFEST_NAME, SIGNATURE_NAME } from './paths.js';
import type { TrustPolicy } from './signatures.js';
import { readTarEntries, type TarEntry } from './tar-entries.js';
import { PayloadChecker, verifyHeader, type VerifiedHeader } from './verify.js';

export interface FileSink {
  write(chunk: Buffer): void | Promise<void>;
  close(): Promise<void>;
}

export interface PayloadSink {
  open(file: ManifestFile): Promise<FileSink>;
}

export interface ReadBundleOptions {
  trust: TrustPolicy;
  now?: Date;
  /** Called once the metadata verified, before any payload byte is used. May throw to stop. */
  onHeader?: (header: VerifiedHeader) => void | Promise<void>;
  sink?: PayloadSink;
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

export interface VerifiedBundle extends VerifiedHeader {
  file: string;
  bundleBytes: number;
}

async function readMetadataEntry(entry: TarEntry | undefined, name: string, limit: number): Promise<Buffer> {
  if (!entry || entry.path !== name || !['File', 'OldFile'].includes(entry.type)) {
    throw new BundleFormatError(
      BundleErrorCodes.LAYOUT,
      `expected ${name} as entry ${name === MANIFEST_NAME ? 1 : 2}, found ${entry ? `${entry.type} ${JSON.stringify(entry.path)}` : 'nothing'}`,
      { hint: 'A bundle starts with manifest.json then manifest.sig.json; build it with `airlock bundle create`.' },
    );
  }
  if (entry.size > limit) {
    throw new BundleFormatError(
      name === MANIFEST_NAME ? BundleErrorCodes.MANIFEST_TOO_LARGE : BundleErrorCodes.SIGNATURE_FILE_INVALID,
      `${name} is ${entry.size} bytes, over the ${limit}-byte limit`,
    );
  }
  const chunks: Buffer[] = [];
  const bytes = await entry.pipe((chunk) => void chunks.push(chunk));
  if (bytes !== entry.size) {
    throw new BundleFormatError(BundleErrorCodes.TRUNCATED, `${name} is truncated`);
  }
  return Buffer.concat(chunks);
}

async function bundleSize(file: string): Promise<number> {
  const info = await stat(file).catch((cause: unknown) => {
    throw new BundleFormatError(BundleErrorCodes.IO, `cannot read ${file}: ${(cause as Error).message}`, {
      cause,
      hint: 'Check the bundle path.',
    });
  });
  return info.size;
}

/** Reads and verifies the first two entries (signatures, expiry). */
async function readHeader(entries: AsyncGenerator<TarEntry>, trust: TrustPolicy, now: Date): Promise<VerifiedHeader> {
  const manifestBytes = await readMetadataEntry((await entries.next()).value || undefined, MANIFEST_NAME, MAX_MANIFEST_BYTES);
  const signatureBytes = await readMetadataEntry((await entries.next()).value || undefined, SIGNATURE_NAME, MAX_SIGNATURE_FILE_BYTES);
  return verifyHeader(manifestBytes, signatureBytes, trust, { now });
}

/**
 * Verifies only a bundle's metadata (signatures, chain, expiry) without
 * reading the payload: what an installer checks before it changes anything.
 */
export async function verifyBundleHeader(file: string, options: { trust: TrustPolicy; now?: Date }): Promise<VerifiedHeader> {
  await bundleSize(file);
  const entries = readTarEntries(file);
  try {
    return await readHeader(entries, options.trust, options.now ?? new Date());
  } finally {
    await entries.return(undefined);
  }
}

export async function readBundle(file: string, options: ReadBundleOptions): Promise<VerifiedBundle> {
  const bundleBytes = await bundleSize(file);
  const entries = readTarEntries(file, {
    ...(options.signal ? { signal: options.signal } : {}),
    onBytes: (read) => options.onProgress?.(read, bundleBytes),
  });
  try {
    const header = await readHeader(entries, options.trust, options.now ?? new Date());
    await options.onHeader?.(header);

    const checker = new PayloadChecker(header.manifest);
    for await (const entry of entries) {
      const listed = checker.begin(entry);
      const hash = createHash('sha256');
      const sink = await options.sink?.open(listed);
      const seen = await entry.pipe(
        sink
          ? (chunk) => {
              hash.update(chunk);
              return sink.write(chunk);
            }
          : (chunk) => void hash.update(chunk),
      );
      checker.finish(listed, seen, hash.digest('hex'));
      await sink?.close();
    }
    checker.end();
    return { ...header, file, bundleBytes };
  } finally {
    await entries.return(undefined);
  }
}
