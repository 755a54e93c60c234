/**
 * Runs the real `airlock` binary (the built CLI) and captures its output,
 * exit code and peak resident memory (sampled from /proc while it runs).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const AIRLOCK_BIN = fileURLToPath(new URL('../../installer/bin/run.js', import.meta.url));

export interface AirlockRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak RSS in bytes (VmHWM), sampled every 20 ms. */
  peakRss: number;
  /** Parsed stdout when --json was given and it parsed. */
  json?: any;
}

async function highWaterMark(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function runAirlock(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<AirlockRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AIRLOCK_BIN, ...args], {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peakRss = 0;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const sampler = setInterval(() => {
      void highWaterMark(child.pid!).then((rss) => (peakRss = Math.max(peakRss, rss)));
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(sampler);
      let json: unknown;
      if (args.includes('--json')) {
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
      }
      resolve({ code: code ?? -1, stdout, stderr, peakRss, ...(json !== undefined ? { json } : {}) });
    });
  });
}
