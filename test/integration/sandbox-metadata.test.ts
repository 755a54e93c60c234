/**
 * The metadata check on its own (root, real kernel, the launcher through
 * launchAgent): chmod, chown, utimes, xattr and inode-flag calls of the agent
 * are answered by its init. The agent runs as nobody here and every fixture
 * file is nobody's and world-writable, so file permissions let each call
 * through: whatever is refused outside the write paths, the check refused.
 * Each refusal is reported (syscall, operation, target, host pid); under kill
 * the agent dies in the call. Inside the workspace the same calls work, and
 * racing a symlink between a file inside and one outside never changes the
 * one outside — with the agent's own uid from a pool (uid_pool.h), which owns
 * nothing outside, as `airlock run` gives it: the calls init lets go on (chmod)
 * then meet file permissions, and those it carries out itself (times, xattrs)
 * never resolve a path twice.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync, lchownSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchAgent, type LaunchFacts } from '../../services/enforcer/launch.js';
import type { MetadataReport } from '../../services/enforcer/launch-reports.js';
import { METADATA_SYSCALLS } from '../../services/enforcer/seccomp/index.js';
import { finish, makeFixture, NOBODY, policy, SYSTEM_READ, type Fixture } from './sandbox-helpers.js';

const PROBE_SOURCE = fileURLToPath(new URL('./sandbox-metadata-probe.c', import.meta.url));
const CALLS_SOURCE = fileURLToPath(new URL('../../services/enforcer/native/src/calls.c', import.meta.url));

let fx: Fixture;
let probe: string;
let n = 0;

beforeAll(() => {
  fx = makeFixture('/var/tmp');
  probe = join(fx.root, 'bin', 'sandbox-metadata-probe');
  execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-o', probe, PROBE_SOURCE, '-lpthread'], { stdio: 'pipe' });
});
afterAll(() => fx?.cleanup());

/** A fresh file of nobody's, mode 0666, in `dir`. */
function file(dir: string, name = `f${n++}`): string {
  const path = join(dir, name);
  writeFileSync(path, 'content\n', { mode: 0o666 });
  chmodSync(path, 0o666);
  chownSync(path, NOBODY, NOBODY);
  return realpathSync(path);
}

/** Everything a metadata call could change. */
function state(path: string): string {
  const st = statSync(path, { bigint: true });
  const xattrs = execFileSync('/usr/bin/python3', ['-c', 'import os,sys; print(sorted(os.listxattr(sys.argv[1])))', path], { encoding: 'utf8' }).trim();
  return JSON.stringify({ mode: String(st.mode), uid: String(st.uid), mtime: String(st.mtimeNs), atime: String(st.atimeNs), xattrs });
}

/** The policy: the workspace writable, the read-only folder readable (descriptors to its files can be had), the secret one not at all. */
async function run(ops: string[], onViolation: 'deny' | 'kill' = 'deny', facts: Partial<LaunchFacts> = {}) {
  const pol = policy(fx, { onViolation, filesystem: { read: [...SYSTEM_READ, fx.readonly] } });
  const agent = await launchAgent(pol, { workspace: fx.workspace, command: [probe, ...ops], ...facts }, { stdio: ['ignore', 'pipe', 'pipe'] });
  const result = await finish(agent);
  const lines = result.stdout.trim().split('\n').filter(Boolean);
  return { ...result, lines, reports: agent.reports.all };
}

const expectReport = (r: MetadataReport | undefined, want: Partial<MetadataReport>) => expect(r).toMatchObject({ exe: probe, ...want });

describe('the metadata check', () => {
  it('answers for exactly the syscalls the filter sends it (calls.c decodes each, plus the inode-flag ioctls)', () => {
    const source = readFileSync(CALLS_SOURCE, 'utf8');
    const decoded = [...source.matchAll(/case (?:SYS|NR)_(\w+):/g)].map((m) => m[1]);
    expect(new Set(decoded)).toEqual(new Set([...METADATA_SYSCALLS, 'ioctl']));
  });

  it('lets every call through inside the workspace, symlinks and /proc/self/fd included', async () => {
    const f = file(fx.workspace);
    symlinkSync(f, join(fx.workspace, `l${n}`));
    lchownSync(join(fx.workspace, `l${n}`), NOBODY, NOBODY);
    const link = join(fx.workspace, `l${n++}`);
    const ops = [
      `chmod:${f},600`, `fchmod-ro:${f},640`, `fchmodat:${f},644`, `fchmodat-nofollow:${f},664`, `fchmodat2:${f},666,0`,
      `chown:${f}`, `lchown:${link}`, `fchown-ro:${f}`, `fchownat-empty:${f}`,
      `utime-now:${f}`, `utimes:${f}`, `futimesat-now:${f}`, `touch:${f}`, `futimens-ro:${f}`,
      `setxattr:${f}`, `removexattr:${f}`, `setxattrat:${f}`, `removexattrat:${f}`, `fsetxattr-ro:${f}`, `setxattr:${link}`, `chattr-ro:${f}`,
      `touch:${link}`, `utimensat:${f}`, `utimensat-omit:${f}`, `chmod:relative-missing,600`,
    ];
    const r = await run(ops);
    const want = ops.map((op) => `${op.split(':')[0]} ok`);
    want[ops.length - 1] = 'chmod ENOENT'; // answered as the kernel would, nothing reported
    expect(r.lines).toEqual(want);
    expect(r.reports).toEqual([]);
    expect(statSync(f).mtimeMs).toBe(1e12); // utimensat's explicit times landed (init applied them), then both omitted
    expect(r.code).toBe(0);
  });

  it('refuses each of them outside the write paths (EPERM) and reports it; the file stays as it was', async () => {
    const out = (op: string) => file(op.endsWith('-ro') || op.endsWith('-empty') ? fx.readonly : fx.secret, `out-${op}`);
    const cases: Array<[string, string, string, string]> = [
      ['chmod', 'chmod', 'chmod', ',777'], ['fchmod-ro', 'fchmod', 'chmod', ',777'], ['fchmodat', 'fchmodat', 'chmod', ',777'], ['fchmodat-nofollow', 'chmod', 'chmod', ',777'], ['fchmodat2', 'fchmodat2', 'chmod', ',777,0'],
      ['chown', 'chown', 'chown', ''], ['lchown', 'lchown', 'chown', ''], ['fchown-ro', 'fchown', 'chown', ''], ['fchownat-empty', 'fchownat', 'chown', ''],
      ['utime-now', 'utime', 'utimes', ''], ['utimes', 'utimes', 'utimes', ''], ['futimesat-now', 'futimesat', 'utimes', ''], ['touch', 'utimensat', 'utimes', ''], ['futimens-ro', 'utimensat', 'utimes', ''],
      ['setxattr', 'setxattr', 'setxattr', ''], ['setxattrat', 'setxattrat', 'setxattr', ''], ['fsetxattr-ro', 'fsetxattr', 'setxattr', ''], ['removexattr', 'removexattr', 'removexattr', ''], ['removexattrat', 'removexattrat', 'removexattr', ''],
      ['chattr-ro', 'ioctl', 'setattr', ''],
    ];
    const targets = cases.map(([op]) => out(op));
    const before = targets.map(state);
    const r = await run(cases.map(([op, , , extra], i) => `${op}:${targets[i]}${extra}`));
    expect(r.lines).toEqual(cases.map(([op]) => `${op} EPERM`));
    expect(targets.map(state)).toEqual(before);
    expect(r.reports).toHaveLength(cases.length);
    cases.forEach(([, syscall, operation], i) => expectReport(r.reports[i], { syscall, operation, target: targets[i], verdict: 'deny', pid: r.pid }));
  });

  it('follows the path as the kernel does: a symlink into the workspace is fine, one out of it is not, nor is a descriptor outside', async () => {
    const outside = file(fx.readonly);
    const inside = file(fx.workspace);
    const link = join(fx.workspace, `swap${n++}`);
    const r = await run([`point:${link},${inside}`, `chmod:${link},600`, `point:${link},${outside}`, `fchmodat:${link},600`, `lchown:${link}`, `fchmod-ro:${outside},600`]);
    expect(r.lines).toEqual(['point ok', 'chmod ok', 'point ok', 'fchmodat EPERM', 'lchown ok', 'fchmod-ro EPERM']);
    expect(r.reports.map((x) => [x.syscall, x.target])).toEqual([['fchmodat', outside], ['fchmod', outside]]);
    expect(statSync(outside).mode & 0o777).toBe(0o666);
  });

  it.each(['chmod', 'touch', 'xattr'])('a symlink flipped in and out of the workspace while %s goes through it never changes the file outside', async (what) => {
    const outside = file(fx.secret);
    const inside = file(fx.workspace);
    const before = state(outside);
    const pool = { first: 2_000_100_000, count: 16, dir: join(fx.root, 'uids') };
    const r = await run([`race:${join(fx.workspace, `race${n++}`)},${inside},${outside},3000,${what}`], 'deny', { uidPool: pool });
    expect(r.lines.at(-1)).toBe('race ok');
    const [, done, refused] = /done=(\d+) refused=(\d+)/.exec(r.stdout)!.map(Number);
    console.log(`${what} through a flipping symlink: ${done} went to the file inside, ${refused} refused (${r.reports.length} reported)`);
    expect(done! + refused!).toBe(3000);
    expect(refused).toBeGreaterThan(0); // the race did reach outside ...
    expect(r.reports.length).toBeGreaterThan(0); // ... and was seen
    expect(r.reports.every((x) => x.target === outside)).toBe(true);
    expect(state(outside)).toBe(before); // ... and never got through
  });

  it('under kill, the first call outside ends the agent before it returns; nothing after it runs', async () => {
    const outside = file(fx.secret);
    const inside = file(fx.workspace);
    const r = await run([`chmod:${inside},600`, `chmod:${outside},777`, `chmod:${inside},644`], 'kill');
    expect(r.signal).toBe('SIGKILL');
    expect(r.lines).toEqual(['chmod ok']);
    expect(statSync(outside).mode & 0o777).toBe(0o666);
    expect(statSync(inside).mode & 0o777).toBe(0o600);
    expect(r.reports).toHaveLength(1);
    expectReport(r.reports[0], { syscall: 'chmod', operation: 'chmod', target: outside, verdict: 'kill', pid: r.pid });
  });
});
