/**
 * The base of every `airlock` command: `--json`, error rendering with a
 * stable code and a hint, exit codes, and progress on a TTY.
 */
import { Command } from '@oclif/core';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { Progress } from './progress.js';

export interface RenderedError {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export function renderError(error: unknown): RenderedError {
  const e = error as { code?: unknown; message?: unknown; hint?: unknown; details?: unknown; oclif?: unknown };
  const isUsage = e.oclif !== undefined && exitCodeFor(error) === ExitCode.USAGE;
  const code = typeof e.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(e.code) ? e.code : isUsage ? 'USAGE' : 'INTERNAL';
  return {
    code,
    message: typeof e.message === 'string' ? e.message : String(error),
    ...(typeof e.hint === 'string' ? { hint: e.hint } : {}),
    ...(e.details && typeof e.details === 'object' && Object.keys(e.details).length > 0
      ? { details: e.details as Record<string, unknown> }
      : {}),
  };
}

export abstract class AirlockCommand extends Command {
  static override enableJsonFlag = true;

  /** A progress line on stderr, shown only on a TTY and never under --json. */
  protected progress(label: string): Progress {
    return new Progress(label, process.stderr.isTTY === true && !this.jsonEnabled());
  }

  /** Human output goes to stderr; results go to stdout. */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${message}\n`);
  }

  protected override async catch(error: Error & { exitCode?: number }): Promise<void> {
    const exit = exitCodeFor(error);
    const rendered = renderError(error);
    process.exitCode = exit;
    if (this.jsonEnabled()) {
      this.logJson({ error: rendered, exitCode: exit });
      return;
    }
    process.stderr.write(`airlock: error ${rendered.code}: ${rendered.message}\n`);
    if (rendered.hint) process.stderr.write(`hint: ${rendered.hint}\n`);
    if (exit === ExitCode.INTERNAL && error.stack) process.stderr.write(`${error.stack}\n`);
  }
}
