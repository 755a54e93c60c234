/**
 * Denials by the in-process layers reach the kernel audit log, where the BPF
 * side's loader reads them over NETLINK_AUDIT: seccomp (type 1326) through
 * SECCOMP_FILTER_FLAG_LOG (errno) or always (kill); Landlock (1423 access,
 * 1424 domain) through LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON, once auditing
 * is enabled. clone3's ENOSYS is not a violation and must not be logged.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixture, policy, runSandboxed } from './sandbox-helpers.js';

const fx = makeFixture();
const tapBinary = join(fx.root, 'bin', 'audit-tap');
let tap: ChildProcessWithoutNullStreams;
let records = '';

beforeAll(async () => {
  execFileSync('gcc', ['-O2', '-Wall', '-o', tapBinary, new URL('./sandbox-audit-tap.c', import.meta.url).pathname]);
  tap = spawn(tapBinary, [], { stdio: ['ignore', 'pipe', 'pipe'] });
  tap.stdout.on('data', (c: Buffer) => (records += c.toString()));
  await new Promise<void>((res, rej) => {
    tap.stdout.on('data', () => records.includes('listening\n') && res());
    tap.once('exit', (code) => rej(new Error(`audit tap exited with ${code}`)));
  });
});

afterAll(async () => {
  tap.kill('SIGTERM');
  await new Promise((res) => tap.once('close', res));
  fx.cleanup();
});

/** All records so far, once one matches (the kernel delivers them asynchronously); gives up after 3 s. */
async function recordsOnce(match: RegExp): Promise<string[]> {
  for (let i = 0; i < 60 && !records.split('\n').some((l) => match.test(l)); i++) await new Promise((res) => setTimeout(res, 50));
  return records.split('\n');
}

describe('kernel audit records', () => {
  it('seccomp errno denials (deny mode), with the syscall number', async () => {
    // clone3 first: records arrive in order, so once bpf's is here, clone3's would be too.
    const r = await runSandboxed(policy(fx), fx, [fx.probe, 'clone3', 'bpf']);
    expect(r.lines).toEqual(['clone3 ENOSYS', 'bpf EPERM']);
    const lines = await recordsOnce(new RegExp(`^1326 .* pid=${r.pid} .*syscall=321 `));
    const seccomp = lines.filter((l) => l.startsWith('1326 ') && l.includes(` pid=${r.pid} `));
    expect(seccomp.some((l) => / syscall=321 .*code=0x50000/.test(l))).toBe(true);
    expect(seccomp.some((l) => / syscall=435 /.test(l))).toBe(false); // clone3: no record
  });

  it('seccomp kills, with the signal', async () => {
    const r = await runSandboxed(policy(fx, { onViolation: 'kill' }), fx, [fx.probe, 'perf']);
    expect(r.signal).toBe('SIGSYS');
    const lines = await recordsOnce(new RegExp(`^1326 .* pid=${r.pid} .*sig=31 .*syscall=298 `));
    expect(lines.some((l) => new RegExp(`^1326 .* pid=${r.pid} .*sig=31 .*syscall=298 .*code=0x80000000`).test(l))).toBe(true);
  });

  it('Landlock denials of the executed agent, with the path and the domain of its pid', async () => {
    const secret = join(fx.secret, 'file');
    const r = await runSandboxed(policy(fx), fx, [fx.probe, `read:${secret}`]);
    expect(r.lines).toEqual(['read EACCES']);
    const lines = await recordsOnce(new RegExp(`^1424 .* pid=${r.pid} `));
    const access = lines.find((l) => l.startsWith('1423 ') && l.includes(`path="${secret}"`));
    expect(access).toMatch(/blockers=fs\.read_file/);
    const domain = /domain=([0-9a-f]+)/.exec(access ?? '')?.[1];
    expect(lines.some((l) => l.startsWith('1424 ') && l.includes(`domain=${domain} `) && l.includes(`pid=${r.pid} `))).toBe(true);
  });
});
