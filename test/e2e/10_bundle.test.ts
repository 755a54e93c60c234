/**
 * The bundle commands end to end, through the real binary: keys, create with
 * several signers, verify, inspect, extract, revocation, error codes and exit
 * codes, and a ≥ 1 GiB bundle extracted with flat memory.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAirlock } from '../helpers/run-airlock.js';

let work: string;
let keys: string;
let image: string;

async function writeImage(dir: string, recipe: string, files: Record<string, string | Buffer>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'image.yaml'), recipe);
  for (const [path, body] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), body);
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'airlock-e2e-bundle-'));
  keys = join(work, 'keys');
  image = join(work, 'image');
  await writeImage(
    image,
    ['name: demo', 'version: 1.2.3', 'sequence: 5', 'threshold: 2', 'expires: 30d', 'components:', '  - name: app', '    files:', '      - src: app', '        dest: app'].join('\n'),
    { 'app/run.sh': '#!/bin/sh\necho hi\n', 'app/lib/data.txt': 'data\n', 'app/deep/a/b/c/d.txt': 'deep\n' },
  );
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('airlock keys', () => {
  it('init writes a root and a signer, keys private, and prints the root fingerprint', async () => {
    const run = await runAirlock(['keys', 'init', '--out', keys, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json.root.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    for (const name of ['root.key', 'signer.key']) expect((await stat(join(keys, name))).mode & 0o777).toBe(0o600);
    expect((await readdir(keys)).sort()).toEqual(['root.crt', 'root.key', 'signer.crt', 'signer.key']);
  });

  it('never overwrites existing keys', async () => {
    const before = await readFile(join(keys, 'root.key'));
    const run = await runAirlock(['keys', 'init', '--out', keys, '--json']);
    expect(run.code).toBe(5);
    expect(run.json.error.code).toBe('BUNDLE_KEY_INVALID');
    expect(await readFile(join(keys, 'root.key'))).toEqual(before);
  });

  it('issue makes a second signer', async () => {
    const run = await runAirlock([
      'keys', 'issue', '--root-key', join(keys, 'root.key'), '--root-cert', join(keys, 'root.crt'), '--cn', 'Release Signer 2', '--out', keys, '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json.certificate).toBe(join(keys, 'release-signer-2.crt'));
  });
});

describe('airlock bundle', () => {
  let bundle: string;

  it('create signs with two signers to meet the image threshold', async () => {
    bundle = join(work, 'demo.airlock');
    const run = await runAirlock([
      'bundle', 'create', image,
      '--signer-key', join(keys, 'signer.key'), '--signer-cert', join(keys, 'signer.crt'),
      '--signer-key', join(keys, 'release-signer-2.key'), '--signer-cert', join(keys, 'release-signer-2.crt'),
      '--out', bundle, '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({ name: 'demo', version: '1.2.3', sequence: 5, files: 3 });
    expect(await readdir(work)).not.toContainEqual(expect.stringMatching(/partial/));
  });

  it('create refuses fewer signers than the image threshold', async () => {
    const out = join(work, 'one.airlock');
    const run = await runAirlock(['bundle', 'create', image, '--signer-key', join(keys, 'signer.key'), '--signer-cert', join(keys, 'signer.crt'), '--out', out, '--json']);
    expect(run.code).toBe(5);
    expect(run.json.error.code).toBe('BUNDLE_KEY_INVALID');
    await expect(stat(out)).rejects.toThrow();
  });

  it('create refuses a key that does not match its certificate', async () => {
    const run = await runAirlock([
      'bundle', 'create', image, '--threshold', '1',
      '--signer-key', join(keys, 'signer.key'), '--signer-cert', join(keys, 'release-signer-2.crt'),
      '--out', join(work, 'mismatch.airlock'), '--json',
    ]);
    expect(run.code).toBe(5);
    expect(run.json.error.message).toMatch(/does not match/);
  });

  it('verify passes with the root pinned, and reports both signers', async () => {
    const run = await runAirlock(['bundle', 'verify', bundle, '--trust', join(keys, 'root.crt'), '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({ verified: true, name: 'demo', sequence: 5, threshold: 2, files: 3 });
    expect(run.json.signers).toHaveLength(2);
  });

  it('a trust folder holding signer certificates only takes its CA as root', async () => {
    const run = await runAirlock(['bundle', 'verify', bundle, '--trust', keys, '--json']);
    expect(run.code, run.stderr).toBe(0);
  });

  it('verify rejects a different root with exit code 3 and a stable code', async () => {
    const other = join(work, 'other-keys');
    expect((await runAirlock(['keys', 'init', '--out', other])).code).toBe(0);
    const run = await runAirlock(['bundle', 'verify', bundle, '--trust', join(other, 'root.crt'), '--json']);
    expect(run.code).toBe(3);
    expect(run.json.error.code).toBe('BUNDLE_SIGNER_UNTRUSTED');
    const human = await runAirlock(['bundle', 'verify', bundle, '--trust', join(other, 'root.crt')]);
    expect(human.code).toBe(3);
    expect(human.stderr).toMatch(/error BUNDLE_SIGNER_UNTRUSTED: .*\nhint: /);
  });

  it('verify refuses a signer certificate given as trust root', async () => {
    const run = await runAirlock(['bundle', 'verify', bundle, '--trust', join(keys, 'signer.crt'), '--json']);
    expect(run.code).toBe(3);
    expect(run.json.error.code).toBe('BUNDLE_TRUST_INVALID');
  });

  it('inspect shows the manifest and says it did not verify', async () => {
    const run = await runAirlock(['bundle', 'inspect', bundle, '--json']);
    expect(run.code).toBe(0);
    expect(run.json.verified).toBe(false);
    expect(run.json.manifest.files.map((f: { path: string }) => f.path)).toEqual(['app/deep/a/b/c/d.txt', 'app/lib/data.txt', 'app/run.sh']);
    expect(run.json.signatures).toHaveLength(2);
    const human = await runAirlock(['bundle', 'inspect', bundle]);
    expect(human.stderr).toMatch(/NOT VERIFIED/);
    expect(human.stdout).toBe('');
  });

  it('extract creates the folder with exact contents', async () => {
    const to = join(work, 'extracted');
    const run = await runAirlock(['bundle', 'extract', bundle, '--trust', join(keys, 'root.crt'), '--to', to, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(join(to, 'app/deep/a/b/c/d.txt'), 'utf8')).toBe('deep\n');
    expect((await stat(join(to, 'app/run.sh'))).mode & 0o777).toBe((await stat(join(image, 'app/run.sh'))).mode & 0o755);
  });

  it('a revoked signer brings the bundle under its threshold', async () => {
    const trustDir = join(work, 'trust-revoked');
    await mkdir(trustDir);
    await copyFile(join(keys, 'root.crt'), join(trustDir, 'root.crt'));
    const revoke = await runAirlock([
      'keys', 'revoke', '--root-key', join(keys, 'root.key'), '--root-cert', join(keys, 'root.crt'),
      '--cert', join(keys, 'release-signer-2.crt'), '--list', join(trustDir, 'revocations.json'), '--reason', 'laptop lost', '--json',
    ]);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.json.revoked).toBe(1);
    const run = await runAirlock(['bundle', 'verify', bundle, '--trust', trustDir, '--json']);
    expect(run.code).toBe(3);
    expect(run.json.error.code).toBe('BUNDLE_THRESHOLD_NOT_MET');
    expect(run.json.error.details.rejected[0].code).toBe('BUNDLE_SIGNER_REVOKED');
  });

  it('a tampered revocation list is refused, not ignored', async () => {
    const trustDir = join(work, 'trust-revoked');
    const list = JSON.parse(await readFile(join(trustDir, 'revocations.json'), 'utf8'));
    list.payload = list.payload.replace('laptop lost', 'laptop found');
    await writeFile(join(trustDir, 'revocations.json'), JSON.stringify(list));
    const run = await runAirlock(['bundle', 'verify', bundle, '--trust', trustDir, '--json']);
    expect(run.code).toBe(3);
    expect(run.json.error.code).toBe('BUNDLE_TRUST_INVALID');
  });

  it('a missing required flag is a usage error (exit 2)', async () => {
    const run = await runAirlock(['bundle', 'verify', bundle, '--json']);
    expect(run.code).toBe(2);
  });
});

describe('a 1 GiB bundle', () => {
  const GiB = 1024 ** 3;

  it('is created, verified and extracted with peak RSS under 200 MB', async () => {
    const big = join(work, 'big-image');
    await writeImage(big, ['name: big', 'version: 1.0.0', 'sequence: 1', 'components:', '  - name: data', '    files:', '      - src: data', '        dest: data'].join('\n'), {
      'data/small.txt': 'small\n',
    });
    // Random head and tail around a sparse middle: every byte still goes through hashing and writing.
    const payload = join(big, 'data', 'model.bin');
    await writeFile(payload, Buffer.alloc(0));
    await truncate(payload, GiB + 12345);
    const handle = await open(payload, 'r+');
    const noise = Buffer.from(createHash('sha512').update('noise').digest());
    await handle.write(noise, 0, noise.length, 0);
    await handle.write(noise, 0, noise.length, GiB);
    await handle.close();

    const file = join(work, 'big.airlock');
    const create = await runAirlock(['bundle', 'create', big, '--signer-key', join(keys, 'signer.key'), '--signer-cert', join(keys, 'signer.crt'), '--out', file, '--json']);
    expect(create.code, create.stderr).toBe(0);
    expect((await stat(file)).size).toBeGreaterThan(GiB);
    expect(create.peakRss).toBeLessThan(200e6);

    const to = join(work, 'big-out');
    const extract = await runAirlock(['bundle', 'extract', file, '--trust', join(keys, 'root.crt'), '--to', to, '--json']);
    expect(extract.code, extract.stderr).toBe(0);
    expect(extract.peakRss).toBeGreaterThan(10e6);
    expect(extract.peakRss).toBeLessThan(200e6);
    expect((await stat(join(to, 'data/model.bin'))).size).toBe(GiB + 12345);
    console.log(`1 GiB bundle: create peak RSS ${(create.peakRss / 1e6).toFixed(0)} MB, extract peak RSS ${(extract.peakRss / 1e6).toFixed(0)} MB`);
    await rm(to, { recursive: true });
    await rm(file);
    await rm(big, { recursive: true });
  }, 300_000);
});
