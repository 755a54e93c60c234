/**
 * Writes consecutive buffers at increasing offsets of one file, keeping a
 * bounded amount of writes in flight: the disk works while the caller hashes
 * the next chunk, and memory stays bounded.
 */
import type { FileHandle } from 'node:fs/promises';

const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;

export class PositionalWriter {
  private readonly inFlight: Array<{ done: Promise<unknown>; bytes: number }> = [];
  private inFlightBytes = 0;
  private failure: unknown;

  constructor(
    private readonly handle: FileHandle,
    public position = 0,
  ) {}

  /** Queues `chunk`; resolves at once unless too much is already in flight. */
  async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    const done = this.writeFully(chunk, this.position).catch((error: unknown) => {
      this.failure ??= error;
    });
    this.position += chunk.length;
    this.inFlight.push({ done, bytes: chunk.length });
    this.inFlightBytes += chunk.length;
    while (this.inFlightBytes > MAX_IN_FLIGHT_BYTES) await this.settleOldest();
    if (this.failure) throw this.failure;
  }

  /** Waits for every queued write. */
  async flush(): Promise<void> {
    while (this.inFlight.length > 0) await this.settleOldest();
    if (this.failure) throw this.failure;
  }

  private async settleOldest(): Promise<void> {
    const oldest = this.inFlight.shift();
    if (!oldest) return;
    await oldest.done;
    this.inFlightBytes -= oldest.bytes;
  }

  private async writeFully(chunk: Buffer, position: number): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, offset, chunk.length - offset, position + offset);
      offset += bytesWritten;
    }
  }
}
