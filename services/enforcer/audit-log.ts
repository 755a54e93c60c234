/**
 * The enforcer's audit event file: JSON lines appended with O_APPEND (one
 * write a line, so lines of concurrent runs never interleave), root-owned
 * 0600 in a 0700 directory, fsync'd when an agent ends. Agents can never
 * reach it: the run pipeline passes its directory as a protected path, which
 * both the policy compiler and the launcher refuse to grant. The audit-log
 * service will take the file over (Merkle tree, signed checkpoints).
 */
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { chmod, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEvent } from './audit-events.js';
import { RunError, RunErrorCodes } from './errors.js';

export class AuditLog {
  readonly path: string;
  #fd: number | undefined;
  #written = 0;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  static async open(path: string): Promise<AuditLog> {
    try {
      // Parents as usual (agents traverse the prefix to their workspaces); the log's own folder is root's alone.
      await mkdir(dirname(path), { recursive: true });
      await chmod(dirname(path), 0o700);
      const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      // Whoever created it before, it is root's and nobody else's.
      if (fstatSync(fd).uid !== 0 && process.geteuid?.() === 0) fchownSync(fd, 0, 0);
      fchmodSync(fd, 0o600);
      return new AuditLog(path, fd);
    } catch (error) {
      throw auditError(path, error);
    }
  }

  /** Events written by this handle. */
  get written(): number {
    return this.#written;
  }

  append(event: AuditEvent): void {
    if (this.#fd === undefined) throw auditError(this.path, new Error('the audit log is closed'));
    try {
      writeSync(this.#fd, `${JSON.stringify(event)}\n`);
      this.#written++;
    } catch (error) {
      throw auditError(this.path, error);
    }
  }

  /** Flushes to disk and closes; the agent's trail is durable once this returns. */
  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

export interface ReadAuditOptions {
  /** Only this agent's events. */
  agent?: string;
  /** The last this many (matching) events. */
  limit?: number;
}

const CHUNK = 64 * 1024;

/** The last events of the file, oldest first; reads backwards so a long log costs only what is shown. */
export async function readAuditLog(path: string, options: ReadAuditOptions = {}): Promise<AuditEvent[]> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  let file;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw auditError(path, error, 'read');
  }
  try {
    const found: AuditEvent[] = [];
    let end = (await file.stat()).size;
    let tail = Buffer.alloc(0);
    while (found.length < limit) {
      const start = Math.max(0, end - CHUNK);
      const chunk = Buffer.alloc(end - start);
      if (chunk.length > 0) await file.read(chunk, 0, chunk.length, start);
      let text = Buffer.concat([chunk, tail]);
      // Keep the (possibly partial) first line for the next round, unless we reached the start.
      const newline = text.indexOf(0x0a);
      const cut = start === 0 ? 0 : newline < 0 ? text.length : newline + 1;
      tail = start > 0 ? text.subarray(0, cut) : Buffer.alloc(0);
      text = text.subarray(cut);
      const lines = text.toString('utf8').split('\n').filter((l) => l.trim() !== '');
      for (let i = lines.length - 1; i >= 0 && found.length < limit; i--) {
        const event = parse(lines[i]!);
        if (event && (options.agent === undefined || event.agent === options.agent)) found.push(event);
      }
      end = start;
      if (start === 0) break;
    }
    return found.reverse();
  } finally {
    await file.close();
  }
}

function parse(line: string): AuditEvent | undefined {
  try {
    const value = JSON.parse(line) as AuditEvent;
    return typeof value === 'object' && value !== null && typeof value.agent === 'string' ? value : undefined;
  } catch {
    return undefined; // a line cut short by a crash mid-write
  }
}

function auditError(path: string, cause: unknown, doing: 'read' | 'write' = 'write'): RunError {
  return new RunError(RunErrorCodes.AUDIT_LOG_FAILED, `cannot ${doing} the audit log ${path}: ${(cause as Error).message}`, {
    cause,
    hint:
      doing === 'read'
        ? 'The audit log is root-only: read it as root.'
        : 'Check that the prefix is writable by root and the disk is not full; agents never run without their audit trail.',
    details: { path },
  });
}
