/**
 * Streams the entries of a tar file with the `tar` package's parser and turns
 * every parser complaint into a typed BundleFormatError. Callers consume each
 * entry's body before the next entry is produced; backpressure reaches the
 * file read, so memory stays flat whatever the bundle's size.
 */
import { open } from 'node:fs/promises';
import { Header, Parser, type ReadEntry } from 'tar';
import { BundleErrorCodes, BundleFormatError, type BundleError } from './errors.js';
import { readFileChunks } from './file-chunks.js';

/** pax and GNU long-name headers are held in memory: cap them. */
const MAX_META_ENTRY = 64 * 1024;

export interface TarEntry {
  path: string;
  type: string;
  size: number;
  /**
   * Delivers the body in order. `onChunk` may return a promise to apply
   * backpressure. Resolves once the whole body went through.
   */
  pipe(onChunk: (chunk: Buffer) => void | Promise<void>): Promise<number>;
}

export interface TarReadOptions {
  onBytes?: (bytesRead: number) => void;
  signal?: AbortSignal;
}

async function assertStartsWithTarHeader(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const block = Buffer.alloc(512);
    const { bytesRead } = await handle.read(block, 0, 512, 0);
    if (bytesRead !== 512 || !isValidHeader(block)) {
      throw new BundleFormatError(BundleErrorCodes.NOT_TAR, `${file} is not a tar archive`, {
        hint: 'A bundle is an uncompressed tar made by `airlock bundle create`.',
      });
    }
  } finally {
    await handle.close();
  }
}

function isValidHeader(block: Buffer): boolean {
  try {
    const header = new Header(block);
    return !header.nullBlock && header.cksumValid;
  } catch {
    return false;
  }
}

function parserError(code: string, message: string, sawEntry: boolean): BundleError {
  if (/truncated/i.test(message)) {
    return new BundleFormatError(BundleErrorCodes.TRUNCATED, `the bundle is truncated: ${message}`, {
      hint: 'The file is incomplete; copy it again from the source medium.',
    });
  }
  if (!sawEntry || /unrecognized archive/i.test(message)) {
    return new BundleFormatError(BundleErrorCodes.NOT_TAR, `not a tar archive: ${message}`, {
      hint: 'A bundle is an uncompressed tar made by `airlock bundle create`.',
    });
  }
  return new BundleFormatError(BundleErrorCodes.MALFORMED, `damaged tar structure (${code}): ${message}`, {
    hint: 'The bundle was damaged or tampered with. Do not use it.',
  });
}

/**
 * Yields the archive's entries in order. Throws BUNDLE_TRUNCATED when the
 * archive ends without its end-of-archive marker.
 */
export async function* readTarEntries(file: string, options: TarReadOptions = {}): AsyncGenerator<TarEntry> {
  await assertStartsWithTarHeader(file);
  const source = new ParserFeed(file);
  const parser = new Parser({ strict: false, maxMetaEntrySize: MAX_META_ENTRY });

  const queue: ReadEntry[] = [];
  let failure: BundleError | undefined;
  let finished = false;
  let sawEof = false;
  let sawEntry = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  let onFailure: ((error: BundleError) => void) | undefined;
  const fail = (error: BundleError): void => {
    failure ??= error;
    source.stop();
    notify();
    onFailure?.(failure);
  };
  const watchFailure = (listener: ((error: BundleError) => void) | undefined): BundleError | undefined => {
    onFailure = listener;
    return failure;
  };

  source.start(parser, options.onBytes, (cause) =>
    fail(new BundleFormatError(BundleErrorCodes.IO, `cannot read ${file}: ${cause.message}`, { cause })),
  );
  parser.on('warn', (code: string, message: string | Error) =>
    fail(parserError(code, typeof message === 'string' ? message : message.message, sawEntry)),
  );
  parser.on('error', (error: Error) => fail(parserError('TAR_ERROR', error.message, sawEntry)));
  parser.on('ignoredEntry', (entry: ReadEntry) =>
    fail(
      entry.meta
        ? new BundleFormatError(BundleErrorCodes.MALFORMED, `oversized ${entry.type} header before ${entry.path}`)
        : new BundleFormatError(BundleErrorCodes.ENTRY_TYPE, `entry ${entry.path} has an unsupported type ${entry.type}`, {
            details: { path: entry.path, type: entry.type },
          }),
    ),
  );
  parser.on('eof', () => {
    // Nothing after the end-of-archive marker is read: it is not part of the
    // bundle, and the parser would otherwise buffer it all in memory.
    sawEof = true;
    source.stop();
  });
  parser.on('entry', (entry: ReadEntry) => {
    sawEntry = true;
    queue.push(entry);
    notify();
  });
  parser.on('end', () => {
    finished = true;
    notify();
  });
  const onAbort = (): void => fail(new BundleFormatError(BundleErrorCodes.IO, 'reading the bundle was cancelled'));
  options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    for (;;) {
      if (failure) throw failure;
      const entry = queue.shift();
      if (!entry) {
        if (finished) break;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      yield {
        path: entry.path,
        type: entry.type,
        size: entry.size,
        pipe: (onChunk) => pipeEntry(entry, onChunk, watchFailure),
      };
    }
    if (failure) throw failure;
    if (!sawEof) {
      throw new BundleFormatError(BundleErrorCodes.TRUNCATED, 'the bundle ends without the end-of-archive marker', {
        hint: 'The file is incomplete; copy it again from the source medium.',
      });
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await source.stop();
  }
}

function pipeEntry(
  entry: ReadEntry,
  onChunk: (chunk: Buffer) => void | Promise<void>,
  watchFailure: (listener: ((error: BundleError) => void) | undefined) => BundleError | undefined,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let bytes = 0;
    let settled = false;
    const settle = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      watchFailure(undefined);
      entry.removeAllListeners('data');
      if (error) reject(error);
      else resolve(bytes);
    };
    // The reader may fail (truncation, cancel) while this entry waits for data.
    const early = watchFailure(settle);
    if (early) return settle(early);
    entry.on('data', (chunk: Buffer) => {
      if (settled) return;
      bytes += chunk.length;
      let pending: void | Promise<void>;
      try {
        pending = onChunk(chunk);
      } catch (error) {
        settle(error);
        return;
      }
      if (pending) {
        entry.pause();
        pending.then(() => entry.resume(), settle);
      }
    });
    entry.on('end', () => settle(watchFailure(undefined)));
    entry.on('error', settle);
  });
}

/** Pushes a file's chunks into the parser, honouring its backpressure. */
class ParserFeed {
  private stopped = false;
  private resume: (() => void) | undefined;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  start(parser: Parser, onBytes: ((bytes: number) => void) | undefined, onError: (cause: Error) => void): void {
    this.done = (async () => {
      let bytesRead = 0;
      try {
        for await (const chunk of readFileChunks(this.file)) {
          if (this.stopped) break;
          bytesRead += chunk.length;
          onBytes?.(bytesRead);
          if (!parser.write(chunk)) {
            await new Promise<void>((resolve) => {
              this.resume = resolve;
              parser.once('drain', resolve);
            });
          }
          if (this.stopped) break;
        }
      } catch (cause) {
        if (!this.stopped) onError(cause as Error);
      }
      parser.end();
    })();
  }

  /** Stops reading (the parser is then ended) and waits for the file to close. */
  stop(): Promise<void> {
    this.stopped = true;
    this.resume?.();
    return this.done;
  }
}
