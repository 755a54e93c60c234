/**
 * The bundle attack corpus: one row per hostile or damaged bundle, each with
 * the error code it must produce. Every row is run through verification and
 * through extraction, and extraction must leave nothing behind.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REVOCATION_FORMAT,
  RevocationSet,
  certificateFingerprint,
  extractBundle,
  loadTrust,
  readBundle,
  signRevocationList,
  verifyRevocationList,
  type LoadedTrust,
  type Manifest,
} from '../../bundle/index.js';
import { craftBundle, identity, makeTestPki, manifestFor, metadataEntries, signedMetadata, validBundle, type PayloadFile, type TestPki } from '../helpers/bundles.js';
import { rawTar } from '../helpers/raw-tar.js';

let work: string;
let pki: TestPki;
let trust: LoadedTrust;
let trustWithRevocation: LoadedTrust;

const files: PayloadFile[] = [
  { path: 'bin/tool', body: Buffer.from('#!/bin/sh\necho tool\n'), mode: 0o755 },
  { path: 'etc/config.yaml', body: Buffer.from('key: value\n') },
  { path: 'data/blob.bin', body: Buffer.alloc(70_000, 7) },
];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'airlock-corpus-'));
  pki = await makeTestPki(work);
  trust = await loadTrust(pki.rootCertPath);
  const revoked = pki.signers[2];
  const list = signRevocationList(
    {
      format: REVOCATION_FORMAT,
      issuer: certificateFingerprint(pki.rootCertPem),
      updated: new Date().toISOString(),
      entries: [
        {
          fingerprint: certificateFingerprint(revoked.certificatePem),
          serial: '01',
          subject: 'CN=Signer C',
          reason: 'key compromise',
          revokedAt: new Date().toISOString(),
        },
      ],
    },
    pki.rootKeyPem,
  );
  const revocations = new RevocationSet();
  revocations.add(verifyRevocationList(list, trust.roots));
  trustWithRevocation = { ...trust, revocations };
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function flipByteAt(bundle: Buffer, needle: Buffer): Buffer {
  const copy = Buffer.from(bundle);
  const at = copy.indexOf(needle);
  if (at < 0) throw new Error('needle not found');
  copy[at + 1] = copy[at + 1]! ^ 0x01;
  return copy;
}

const a = () => identity(pki.signers[0]);
const b = () => identity(pki.signers[1]);
const c = () => identity(pki.signers[2]);
const body = (f: PayloadFile) => ({ path: f.path, body: f.body, mode: f.mode ?? 0o644 });

interface Case {
  name: string;
  code: string;
  bundle: () => Buffer;
  revocation?: boolean;
}

const cases: Case[] = [
  { name: 'not a tar: random bytes', code: 'BUNDLE_NOT_TAR', bundle: () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 251)) },
  { name: 'not a tar: empty file', code: 'BUNDLE_NOT_TAR', bundle: () => Buffer.alloc(0) },
  { name: 'not a tar: gzip-compressed bundle', code: 'BUNDLE_NOT_TAR', bundle: () => gzipSync(validBundle(files, [a()])) },
  { name: 'not a tar: a text file', code: 'BUNDLE_NOT_TAR', bundle: () => Buffer.from('hello world\n'.repeat(100)) },
  { name: 'not a tar: zero blocks only', code: 'BUNDLE_NOT_TAR', bundle: () => Buffer.alloc(10240) },
  { name: 'flipped byte in the first payload file', code: 'BUNDLE_DIGEST_MISMATCH', bundle: () => flipByteAt(validBundle(files, [a()]), files[0]!.body) },
  { name: 'flipped byte in the last payload file', code: 'BUNDLE_DIGEST_MISMATCH', bundle: () => flipByteAt(validBundle(files, [a()]), files[2]!.body.subarray(0, 64)) },
  { name: 'flipped byte in a payload tar header', code: 'BUNDLE_MALFORMED', bundle: () => flipByteAt(validBundle(files, [a()]), Buffer.from('etc/config.yaml\0')) },
  {
    name: 'changed manifest (same length)',
    code: 'BUNDLE_SIGNATURE_INVALID',
    bundle: () => {
      const bundle = validBundle(files, [a()]);
      const at = bundle.indexOf(Buffer.from('"sequence": 1'));
      bundle.write('"sequence": 9', at);
      return bundle;
    },
  },
  {
    name: 'manifest swapped for another, validly signed one, with the old signature',
    code: 'BUNDLE_SIGNATURE_INVALID',
    bundle: () => {
      const original = signedMetadata(manifestFor(files), [a()]);
      const other = signedMetadata(manifestFor(files, { sequence: 99 }), [a()]);
      return rawTar([...metadataEntries({ manifestBytes: other.manifestBytes, signatureBytes: original.signatureBytes }), ...files.map(body)]);
    },
  },
  { name: 'signed by a key outside the trust root', code: 'BUNDLE_SIGNER_UNTRUSTED', bundle: () => validBundle(files, [identity(pki.stranger)]) },
  { name: 'expired signer certificate', code: 'BUNDLE_CERT_EXPIRED', bundle: () => validBundle(files, [identity(pki.expired)]) },
  { name: 'signer certificate not valid yet', code: 'BUNDLE_CERT_NOT_YET_VALID', bundle: () => validBundle(files, [identity(pki.notYetValid)]) },
  { name: 'signer without the signing key usage', code: 'BUNDLE_CERT_KEY_USAGE', bundle: () => validBundle(files, [identity(pki.noSigningUsage)]) },
  {
    name: 'signed by the root itself',
    code: 'BUNDLE_CERT_KEY_USAGE',
    bundle: () => validBundle(files, [{ privateKeyPem: pki.rootKeyPem, certificatePems: [pki.rootCertPem] }]),
  },
  { name: 'revoked signer', code: 'BUNDLE_SIGNER_REVOKED', bundle: () => validBundle(files, [c()]), revocation: true },
  { name: 'threshold 2, one signer', code: 'BUNDLE_THRESHOLD_NOT_MET', bundle: () => validBundle(files, [a()], { threshold: 2 }) },
  { name: 'threshold 2, the same signer twice', code: 'BUNDLE_THRESHOLD_NOT_MET', bundle: () => validBundle(files, [a(), a()], { threshold: 2 }) },
  { name: 'threshold 2, one trusted and one stranger', code: 'BUNDLE_THRESHOLD_NOT_MET', bundle: () => validBundle(files, [a(), identity(pki.stranger)], { threshold: 2 }) },
  { name: 'threshold 2, one trusted and one revoked', code: 'BUNDLE_THRESHOLD_NOT_MET', bundle: () => validBundle(files, [a(), c()], { threshold: 2 }), revocation: true },
  {
    name: 'bundle past its expiry',
    code: 'BUNDLE_EXPIRED',
    bundle: () =>
      validBundle(files, [a()], { created: new Date(Date.now() - 3 * 86_400_000).toISOString(), expires: new Date(Date.now() - 86_400_000).toISOString() }),
  },
  { name: 'entry not in the manifest', code: 'BUNDLE_ENTRY_UNLISTED', bundle: () => craftBundle(manifestFor(files), [a()], [...files.map(body), { path: 'extra/payload.sh', body: Buffer.from('x') }]) },
  { name: 'listed file missing', code: 'BUNDLE_ENTRY_MISSING', bundle: () => craftBundle(manifestFor(files), [a()], files.slice(0, 2).map(body)) },
  { name: 'no payload at all', code: 'BUNDLE_ENTRY_MISSING', bundle: () => craftBundle(manifestFor(files), [a()], []) },
  { name: 'entries out of order', code: 'BUNDLE_ENTRY_ORDER', bundle: () => craftBundle(manifestFor(files), [a()], [files[1]!, files[0]!, files[2]!].map(body)) },
  { name: 'duplicate entry', code: 'BUNDLE_ENTRY_DUPLICATE', bundle: () => craftBundle(manifestFor(files), [a()], [files[0]!, files[0]!, files[1]!, files[2]!].map(body)) },
  { name: 'size differs from the manifest', code: 'BUNDLE_SIZE_MISMATCH', bundle: () => craftBundle(manifestFor(files), [a()], [{ ...body(files[0]!), body: Buffer.concat([files[0]!.body, Buffer.from('#')]) }, ...files.slice(1).map(body)]) },
  { name: 'truncated in the middle of a payload file', code: 'BUNDLE_TRUNCATED', bundle: () => { const v = validBundle(files, [a()]); return v.subarray(0, v.indexOf(files[2]!.body) + 30_000); } },
  { name: 'truncated inside the manifest', code: 'BUNDLE_TRUNCATED', bundle: () => validBundle(files, [a()]).subarray(0, 700) },
  { name: 'truncated before the end-of-archive marker', code: 'BUNDLE_TRUNCATED', bundle: () => { const v = validBundle(files, [a()]); return v.subarray(0, v.length - 1024); } },
  { name: 'truncated inside a header block', code: 'BUNDLE_TRUNCATED', bundle: () => { const v = validBundle(files, [a()]); return v.subarray(0, v.indexOf(Buffer.from('data/blob.bin\0')) + 200); } },
  { name: '../ path', code: 'BUNDLE_PATH_UNSAFE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: '../escape.sh', body: Buffer.from('x') }]) },
  { name: 'nested ../ path', code: 'BUNDLE_PATH_UNSAFE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: 'bin/../../escape.sh', body: Buffer.from('x') }]) },
  { name: 'absolute path', code: 'BUNDLE_PATH_UNSAFE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: '/etc/cron.d/evil', body: Buffer.from('x') }]) },
  { name: '../ path hidden in a pax header', code: 'BUNDLE_PATH_UNSAFE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: '../../pax-escape', body: Buffer.from('x'), paxPath: true }]) },
  { name: 'symlink entry', code: 'BUNDLE_ENTRY_TYPE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: 'bin/tool', type: 'SymbolicLink', linkpath: '/etc/passwd' }]) },
  { name: 'hardlink entry', code: 'BUNDLE_ENTRY_TYPE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: 'bin/tool', type: 'Link', linkpath: '/etc/shadow' }]) },
  { name: 'character device entry', code: 'BUNDLE_ENTRY_TYPE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: 'bin/tool', type: 'CharacterDevice' }]) },
  { name: 'block device entry', code: 'BUNDLE_ENTRY_TYPE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: 'bin/tool', type: 'BlockDevice' }]) },
  { name: 'fifo entry', code: 'BUNDLE_ENTRY_TYPE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: 'bin/tool', type: 'FIFO' }]) },
  { name: 'directory entry', code: 'BUNDLE_ENTRY_TYPE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: 'bin', type: 'Directory' }]) },
  { name: 'unknown entry type', code: 'BUNDLE_ENTRY_TYPE', bundle: () => craftBundle(manifestFor(files), [a()], [{ path: 'bin/tool', body: files[0]!.body, typeFlag: 'Z' }]) },
  {
    name: 'manifest not first',
    code: 'BUNDLE_LAYOUT',
    bundle: () => {
      const meta = metadataEntries(signedMetadata(manifestFor(files), [a()]));
      return rawTar([body(files[0]!), ...meta, ...files.slice(1).map(body)]);
    },
  },
  {
    name: 'signature not second',
    code: 'BUNDLE_LAYOUT',
    bundle: () => {
      const [manifest, signature] = metadataEntries(signedMetadata(manifestFor(files), [a()]));
      return rawTar([manifest!, body(files[0]!), signature!, ...files.slice(1).map(body)]);
    },
  },
  { name: 'signature missing', code: 'BUNDLE_LAYOUT', bundle: () => rawTar([metadataEntries(signedMetadata(manifestFor(files), [a()]))[0]!, ...files.map(body)]) },
  {
    name: 'oversized manifest',
    code: 'BUNDLE_MANIFEST_TOO_LARGE',
    bundle: () => rawTar([{ path: 'manifest.json', body: Buffer.alloc(0), size: 64 * 1024 * 1024 }], { endMarker: false }),
  },
  {
    name: 'manifest is not JSON (but signed)',
    code: 'BUNDLE_MANIFEST_INVALID',
    bundle: () => {
      const meta = signedMetadata(manifestFor(files), [a()]);
      return rawTar([{ path: 'manifest.json', body: Buffer.from('not json') }, { path: 'manifest.sig.json', body: meta.signatureBytes }]);
    },
  },
  {
    name: 'manifest lists an unsafe path (signed)',
    code: 'BUNDLE_MANIFEST_INVALID',
    bundle: () => craftBundle({ ...manifestFor(files), files: [{ path: '../x', size: 1, sha256: '0'.repeat(64), mode: 0o644 }] } as Manifest, [a()], []),
  },
  { name: 'signature file is garbage', code: 'BUNDLE_SIGNATURE_FILE_INVALID', bundle: () => rawTar([{ path: 'manifest.json', body: signedMetadata(manifestFor(files), [a()]).manifestBytes }, { path: 'manifest.sig.json', body: Buffer.from('{"signatures": 5}') }]) },
  {
    name: 'declared size larger than the free disk',
    code: 'BUNDLE_DISK_SPACE',
    bundle: () => craftBundle({ ...manifestFor([]), files: [{ path: 'huge.img', size: 2 ** 52, sha256: '0'.repeat(64), mode: 0o644 }] }, [a()], []),
  },
];

describe('bundle attack corpus', () => {
  it('has a row for every rejection the format promises', () => {
    const codes = new Set(cases.map((c) => c.code));
    for (const code of [
      'BUNDLE_NOT_TAR', 'BUNDLE_TRUNCATED', 'BUNDLE_MALFORMED', 'BUNDLE_LAYOUT', 'BUNDLE_MANIFEST_TOO_LARGE', 'BUNDLE_MANIFEST_INVALID',
      'BUNDLE_SIGNATURE_INVALID', 'BUNDLE_SIGNER_UNTRUSTED', 'BUNDLE_CERT_EXPIRED', 'BUNDLE_CERT_NOT_YET_VALID', 'BUNDLE_CERT_KEY_USAGE',
      'BUNDLE_SIGNER_REVOKED', 'BUNDLE_THRESHOLD_NOT_MET', 'BUNDLE_EXPIRED', 'BUNDLE_ENTRY_UNLISTED', 'BUNDLE_ENTRY_MISSING',
      'BUNDLE_ENTRY_DUPLICATE', 'BUNDLE_PATH_UNSAFE', 'BUNDLE_ENTRY_TYPE', 'BUNDLE_DISK_SPACE', 'BUNDLE_DIGEST_MISMATCH',
    ]) {
      expect(codes, code).toContain(code);
    }
  });

  it.each(cases)('$name → $code', async (testCase) => {
    const dir = await mkdtemp(join(work, 'case-'));
    const file = join(dir, 'bundle.airlock');
    await writeFile(file, testCase.bundle());
    const target = join(dir, 'out', 'release');
    await mkdir(join(dir, 'out'));
    const useTrust = testCase.revocation ? trustWithRevocation : trust;

    const verifyCode = testCase.code === 'BUNDLE_DISK_SPACE' ? undefined : testCase.code;
    if (verifyCode) await expect(readBundle(file, { trust: useTrust })).rejects.toMatchObject({ code: verifyCode });
    await expect(extractBundle(file, { trust: useTrust, to: target })).rejects.toMatchObject({ code: testCase.code });
    expect(await readdir(join(dir, 'out'))).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('valid bundles', () => {
  it('extracts a single-signer bundle with exact bytes and modes', async () => {
    const dir = await mkdtemp(join(work, 'ok-'));
    const file = join(dir, 'bundle.airlock');
    await writeFile(file, validBundle(files, [a()]));
    const result = await extractBundle(file, { trust, to: join(dir, 'release') });
    expect(result.signatures.signers.map((s) => s.subject)).toEqual(['CN=Signer A']);
    const { readFile } = await import('node:fs/promises');
    for (const f of files) {
      const bytes = await readFile(join(dir, 'release', f.path));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(createHash('sha256').update(f.body).digest('hex'));
      expect((await stat(join(dir, 'release', f.path))).mode & 0o777).toBe(f.mode ?? 0o644);
    }
    expect((await readdir(dir)).sort()).toEqual(['bundle.airlock', 'release']);
    expect((await stat(join(dir, 'release'))).mode & 0o777).toBe(0o755);
  });

  it("passes the caller's own onHeader error through unchanged, and writes nothing", async () => {
    const dir = await mkdtemp(join(work, 'onheader-'));
    const file = join(dir, 'bundle.airlock');
    await writeFile(file, validBundle(files, [a()]));
    const refusal = Object.assign(new Error('sequence too low'), { code: 'INSTALL_DOWNGRADE' });
    const extracting = extractBundle(file, { trust, to: join(dir, 'release'), onHeader: () => { throw refusal; } });
    await expect(extracting).rejects.toBe(refusal);
    expect(await readdir(dir)).toEqual(['bundle.airlock']);
  });

  it('accepts 2-of-3 when all three sign', async () => {
    const file = join(work, 'three.airlock');
    await writeFile(file, validBundle(files, [a(), b(), c()], { threshold: 2 }));
    const verified = await readBundle(file, { trust });
    expect(verified.signatures.signers).toHaveLength(3);
    expect(verified.signatures.threshold).toBe(2);
  });

  it('accepts 2-of-3 when one of the three is revoked', async () => {
    const file = join(work, 'two-of-three.airlock');
    await writeFile(file, validBundle(files, [a(), b(), c()], { threshold: 2 }));
    const verified = await readBundle(file, { trust: trustWithRevocation });
    expect(verified.signatures.signers.map((s) => s.subject).sort()).toEqual(['CN=Signer A', 'CN=Signer B']);
    expect(verified.signatures.rejected.map((r) => r.code)).toEqual(['BUNDLE_SIGNER_REVOKED']);
  });

  it('accepts a multi-signer bundle with a stranger among trusted signers at threshold 1', async () => {
    const file = join(work, 'multi.airlock');
    await writeFile(file, validBundle(files, [identity(pki.stranger), b()]));
    const verified = await readBundle(file, { trust });
    expect(verified.signatures.signers.map((s) => s.subject)).toEqual(['CN=Signer B']);
    expect(verified.signatures.rejected[0]?.code).toBe('BUNDLE_SIGNER_UNTRUSTED');
  });

  it('lets the verifier raise, never lower, the threshold', async () => {
    const file = join(work, 'raise.airlock');
    await writeFile(file, validBundle(files, [a()]));
    await expect(readBundle(file, { trust: { ...trust, minimumThreshold: 2 } })).rejects.toMatchObject({ code: 'BUNDLE_THRESHOLD_NOT_MET' });
    await writeFile(file, validBundle(files, [a(), b()], { threshold: 2 }));
    await expect(readBundle(file, { trust: { ...trust, minimumThreshold: 1 } })).resolves.toMatchObject({ signatures: { threshold: 2 } });
  });

  it('refuses to extract over a non-empty target and leaves it untouched', async () => {
    const dir = await mkdtemp(join(work, 'exists-'));
    const file = join(dir, 'bundle.airlock');
    await writeFile(file, validBundle(files, [a()]));
    await mkdir(join(dir, 'release'));
    await writeFile(join(dir, 'release', 'keep.txt'), 'keep');
    await expect(extractBundle(file, { trust, to: join(dir, 'release') })).rejects.toMatchObject({ code: 'BUNDLE_TARGET_EXISTS' });
    expect(await readdir(join(dir, 'release'))).toEqual(['keep.txt']);
    expect((await readdir(dir)).sort()).toEqual(['bundle.airlock', 'release']);
  });
});

describe('random damage', () => {
  it('never crashes, never writes, on 300 randomly damaged bundles', async () => {
    const original = validBundle(files, [a()]);
    let seed = 0x5eed;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const outcomes = new Map<string, number>();
    const dir = await mkdtemp(join(work, 'fuzz-'));
    for (let i = 0; i < 300; i++) {
      const damaged = Buffer.from(original);
      const kind = random(3);
      let input = damaged;
      if (kind === 0) damaged[random(damaged.length)] ^= 1 << random(8);
      else if (kind === 1) input = damaged.subarray(0, random(damaged.length));
      else for (let j = 0; j < 8; j++) damaged[random(damaged.length)] = random(256);
      const file = join(dir, 'fuzz.airlock');
      await writeFile(file, input);
      const target = join(dir, 'release');
      let outcome: string;
      try {
        await extractBundle(file, { trust, to: target });
        // Damage that lands in padding is harmless: the payload must still be exact.
        const { readFile } = await import('node:fs/promises');
        for (const f of files) expect(await readFile(join(target, f.path))).toEqual(f.body);
        outcome = 'OK';
        await rm(target, { recursive: true });
      } catch (error) {
        outcome = (error as { code?: string }).code ?? 'UNTYPED';
        expect(outcome, String(error)).toMatch(/^BUNDLE_/);
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      expect((await readdir(dir)).sort()).toEqual(['fuzz.airlock']);
    }
    expect(outcomes.get('UNTYPED')).toBeUndefined();
    expect(outcomes.size).toBeGreaterThan(3);
  });
});
