/**
 * Verified streaming extraction: the bundle streams into a fresh staging
 * folder beside the target while every byte is checked; only when all of it
 * verified and reached the disk is the staging folder renamed into place.
 * On any failure the staging folder is removed and the target is untouched.
 */
import { constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readdir, rename, rm, statfs, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BundleError, BundleErrorCodes, BundleEnvironmentError } from './errors.js';
import type { ManifestFile } from './manifest.js';
import { ancestorsOf } from './paths.js';
import { PositionalWriter } from './positional-writer.js';
import { readBundle, type FileSink, type PayloadSink, type ReadBundleOptions, type VerifiedBundle } from './read.js';
import type { VerifiedHeader } from './verify.js';

export interface ExtractOptions extends Omit<ReadBundleOptions, 'sink'> {
  /** Folder to create; must not exist or be empty. */
  to: string;
  /** fsync files and folders before the final rename (default true). */
  durable?: boolean;
}

export interface ExtractResult extends VerifiedBundle {
  target: string;
}

/** Space a payload needs beyond its bytes: a block per file plus metadata. */
const PER_FILE_OVERHEAD = 4096;
const FIXED_OVERHEAD = 1024 * 1024;
const MAX_PENDING_SYNCS = 8;

export function requiredBytes(header: Pick<VerifiedHeader, 'payloadBytes' | 'manifest'>): number {
  return header.payloadBytes + header.manifest.files.length * PER_FILE_OVERHEAD + FIXED_OVERHEAD;
}

/** Refuses up front when the declared payload cannot fit where it will land. */
export async function assertFreeSpace(folder: string, header: Pick<VerifiedHeader, 'payloadBytes' | 'manifest'>): Promise<void> {
  const fs = await statfs(folder);
  const free = fs.bavail * fs.bsize;
  const needed = requiredBytes(header);
  if (needed > free) {
    throw new BundleEnvironmentError(
      BundleErrorCodes.DISK_SPACE,
      `the bundle needs ${needed} bytes at ${folder}, only ${free} are free`,
      { hint: 'Free disk space there, or choose another target.', details: { needed, free } },
    );
  }
}

/** Turns a system call failure into a typed error; any other error passes through unchanged. */
function environmentError(error: unknown, what: string): unknown {
  const errno = error as NodeJS.ErrnoException;
  if (error instanceof BundleError || typeof errno.syscall !== 'string') return error;
  const code = errno.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new BundleEnvironmentError(BundleErrorCodes.DISK_FULL, `the disk filled up while ${what}`, {
      cause: error,
      hint: 'Free disk space and try again; nothing was changed.',
    });
  }
  return new BundleEnvironmentError(BundleErrorCodes.IO, `I/O error while ${what}: ${(error as Error).message}`, { cause: error });
}

/** Writes payload files under a staging root it alone created. */
class StagingSink implements PayloadSink {
  private readonly folders = new Set<string>();
  private readonly handles = new Set<FileHandle>();
  private readonly syncs = new Set<Promise<void>>();

  constructor(
    readonly root: string,
    private readonly durable: boolean,
  ) {}

  async open(file: ManifestFile): Promise<FileSink> {
    for (const folder of ancestorsOf(file.path)) {
      if (this.folders.has(folder)) continue;
      await mkdir(join(this.root, folder), { mode: 0o755 });
      this.folders.add(folder);
    }
    // The staging root is fresh and every folder in it is ours, so no link can
    // exist; O_EXCL|O_NOFOLLOW still refuse anything unexpected.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const handle = await open(join(this.root, file.path), flags, 0o600);
    this.handles.add(handle);
    const writer = new PositionalWriter(handle);
    const flusher = this.durable ? new EarlyFlusher(handle) : undefined;
    return {
      write: (chunk) => {
        flusher?.wrote(chunk.length);
        return writer.write(chunk);
      },
      close: async () => {
        await writer.flush();
        await flusher?.settle();
        await handle.chmod(file.mode & 0o755);
        await this.retire(handle);
      },
    };
  }

  /** Flushes a finished file in the background, a bounded number at a time. */
  private async retire(handle: FileHandle): Promise<void> {
    if (!this.durable) {
      this.handles.delete(handle);
      await handle.close();
      return;
    }
    const sync = handle
      .datasync()
      .finally(() => {
        this.handles.delete(handle);
        return handle.close();
      })
      .finally(() => this.syncs.delete(sync));
    this.syncs.add(sync);
    while (this.syncs.size >= MAX_PENDING_SYNCS) await Promise.race(this.syncs);
  }

  /** Waits for every file to reach the disk, then flushes the folders. */
  async settle(): Promise<void> {
    await Promise.all(this.syncs);
    if (!this.durable) return;
    for (const folder of [...this.folders, '']) await syncFolder(join(this.root, folder));
  }

  async abort(): Promise<void> {
    await Promise.allSettled([...this.syncs]);
    await Promise.allSettled([...this.handles].map((h) => h.close()));
  }
}

/**
 * Starts writeback of a large file while it is still being written, so the
 * final fsync does not wait for gigabytes at once: every EARLY_FLUSH_BYTES a
 * background fdatasync (never more than one in flight) flushes what is there.
 */
const EARLY_FLUSH_BYTES = 64 * 1024 * 1024;

class EarlyFlusher {
  private sinceFlush = 0;
  private inFlight: Promise<void> | undefined;
  private failure: unknown;

  constructor(private readonly handle: FileHandle) {}

  wrote(bytes: number): void {
    this.sinceFlush += bytes;
    if (this.sinceFlush < EARLY_FLUSH_BYTES || this.inFlight) return;
    this.sinceFlush = 0;
    this.inFlight = this.handle
      .datasync()
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => (this.inFlight = undefined));
  }

  async settle(): Promise<void> {
    await this.inFlight;
    if (this.failure) throw this.failure;
  }
}

async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function assertTargetFree(target: string): Promise<void> {
  const entries = await readdir(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    if (error.code === 'ENOTDIR') return ['(a file)'];
    throw environmentError(error, `checking ${target}`);
  });
  if (entries.length > 0) {
    throw new BundleEnvironmentError(BundleErrorCodes.TARGET_EXISTS, `${target} already exists and is not empty`, {
      hint: 'Extract into a new folder.',
    });
  }
}

export async function extractBundle(file: string, options: ExtractOptions): Promise<ExtractResult> {
  const target = resolve(options.to);
  const parent = dirname(target);
  await assertTargetFree(target);
  await mkdir(parent, { recursive: true }).catch((error: unknown) => {
    throw environmentError(error, `creating ${parent}`);
  });
  const staging = await mkdtemp(join(parent, `.${basename(target)}.staging-`)).catch((error: unknown) => {
    throw environmentError(error, `creating a staging folder in ${parent}`);
  });
  const sink = new StagingSink(staging, options.durable ?? true);
  try {
    const verified = await readBundle(file, {
      ...options,
      sink,
      onHeader: async (header) => {
        await assertFreeSpace(parent, header);
        await options.onHeader?.(header);
      },
    });
    await sink.settle();
    // mkdtemp made the staging folder 0700 so nobody saw it half-written.
    await chmod(staging, 0o755);
    await rename(staging, target);
    if (options.durable ?? true) await syncFolder(parent);
    return { ...verified, target };
  } catch (error) {
    await sink.abort();
    await rm(staging, { recursive: true, force: true });
    throw environmentError(error, `extracting ${file}`);
  }
}
