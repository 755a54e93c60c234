/**
 * Builds a signed bundle from an image recipe in one pass over the payload:
 * each file is read once, hashed and written at its final place; the
 * manifest and its signatures (whose sizes are known in advance, since every
 * digest has the same length) are then written in front. The result appears
 * under its name only once complete and flushed.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { BundleErrorCodes, BundleInputError, BundleEnvironmentError, BundleError } from './errors.js';
import { loadImage, resolveExpiry, type ImageFile } from './image.js';
import { MANIFEST_FORMAT, checkManifestSemantics, encodeManifest, parseManifest, type Manifest } from './manifest.js';
import { MANIFEST_NAME, SIGNATURE_NAME } from './paths.js';
import { encodeSignatureFile, signManifest, type SigningIdentity } from './signatures.js';
import { BLOCK, END_OF_ARCHIVE, encodeFileHeader, paddedSize, paddingFor } from './tar-format.js';
import { PositionalWriter } from './positional-writer.js';
import { readFileChunks } from './file-chunks.js';

export interface CreateOptions {
  signers: SigningIdentity[];
  out: string;
  version?: string;
  sequence?: number;
  /** Duration (`90d`) or ISO date; overrides image.yaml. */
  expires?: string;
  threshold?: number;
  now?: Date;
  onProgress?: (done: number, total: number) => void;
}

export interface CreateResult {
  file: string;
  manifest: Manifest;
  manifestSha256: string;
  bytes: number;
}

const PLACEHOLDER_DIGEST = '0'.repeat(64);
/** Room left for a signature or manifest that encodes longer than planned. */
const SLACK = 256;

function padTo(bytes: Buffer, length: number, what: string): Buffer {
  if (bytes.length > length) throw new Error(`${what} grew past its reserved size`);
  // JSON ignores trailing whitespace; the padding is part of the signed bytes.
  return Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.alloc(length - bytes.length, ' '), Buffer.from('\n')]);
}

function metadataBlock(name: string, body: Buffer, mtime: Date): Buffer {
  return Buffer.concat([encodeFileHeader(name, body.length, 0o644, mtime), body, Buffer.alloc(paddingFor(body.length))]);
}

async function copyHashing(file: ImageFile, writer: PositionalWriter, onBytes: (n: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let seen = 0;
  for await (const chunk of readFileChunks(file.source, { length: file.size })) {
    hash.update(chunk);
    seen += chunk.length;
    await writer.write(chunk);
    onBytes(chunk.length);
  }
  if (seen !== file.size) {
    throw new BundleInputError(BundleErrorCodes.IMAGE_INVALID, `${file.source} changed size while it was being bundled`, {
      hint: 'Stop whatever writes to the image folder and build again.',
    });
  }
  return hash.digest('hex');
}

export async function createBundle(imageDir: string, options: CreateOptions): Promise<CreateResult> {
  const now = options.now ?? new Date();
  const image = await loadImage(imageDir);
  const { recipe } = image;
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    name: recipe.name,
    version: options.version ?? recipe.version,
    sequence: options.sequence ?? recipe.sequence,
    created: now.toISOString(),
    expires: resolveExpiry(options.expires ?? recipe.expires, now).toISOString(),
    threshold: options.threshold ?? recipe.threshold,
    components: image.components,
    files: image.files.map((f) => ({ path: f.path, size: f.size, sha256: PLACEHOLDER_DIGEST, mode: f.mode, component: f.component })),
  };
  // Validate through the same parser the verifier uses, so we never sign
  // something the installer would refuse.
  parseManifest(encodeManifest(manifest));
  checkManifestSemantics(manifest);
  if (manifest.threshold > options.signers.length) {
    throw new BundleInputError(
      BundleErrorCodes.KEY_INVALID,
      `the image needs ${manifest.threshold} signers, ${options.signers.length} given`,
      { hint: 'Repeat --signer-key/--signer-cert for each signer.' },
    );
  }

  const manifestLength = encodeManifest(manifest).length + SLACK;
  const signatureLength = encodeSignatureFile(signManifest(encodeManifest(manifest), options.signers)).length + SLACK;
  const payloadOffset = 2 * BLOCK + paddedSize(manifestLength) + paddedSize(signatureLength);
  const total = image.files.reduce((sum, f) => sum + f.size, 0);

  const out = options.out;
  const partial = join(dirname(out), `.${basename(out)}.partial-${randomBytes(4).toString('hex')}`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(partial, 'wx', 0o644);
    const writer = new PositionalWriter(handle, payloadOffset);
    let done = 0;
    for (const [i, file] of image.files.entries()) {
      await writer.write(encodeFileHeader(file.path, file.size, file.mode, now));
      manifest.files[i]!.sha256 = await copyHashing(file, writer, (n) => {
        done += n;
        options.onProgress?.(done, total);
      });
      await writer.write(Buffer.alloc(paddingFor(file.size)));
    }
    await writer.write(END_OF_ARCHIVE);
    await writer.flush();

    const manifestBytes = padTo(encodeManifest(manifest), manifestLength, MANIFEST_NAME);
    const signatureBytes = padTo(encodeSignatureFile(signManifest(manifestBytes, options.signers)), signatureLength, SIGNATURE_NAME);
    const head = Buffer.concat([metadataBlock(MANIFEST_NAME, manifestBytes, now), metadataBlock(SIGNATURE_NAME, signatureBytes, now)]);
    await handle.write(head, 0, head.length, 0);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(partial, out);
    return {
      file: out,
      manifest,
      manifestSha256: createHash('sha256').update(manifestBytes).digest('hex'),
      bytes: writer.position,
    };
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(partial, { force: true });
    if (error instanceof BundleError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new BundleEnvironmentError(
      code === 'ENOSPC' ? BundleErrorCodes.DISK_FULL : BundleErrorCodes.IO,
      `cannot write ${out}: ${(error as Error).message}`,
      { cause: error, hint: code === 'ENOSPC' ? 'Free space where --out points.' : 'Check that --out is writable.' },
    );
  }
}
