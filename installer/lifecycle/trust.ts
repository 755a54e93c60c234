/**
 * The trust pinned at install under etc/trust/: the root certificates the
 * operator passed with --trust (and the revocation list of a trust folder).
 * Upgrades verify against this copy only, so no later --trust can widen it.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { REVOCATION_LIST_FILE, certificateFingerprint, loadTrust, splitPemCertificates, type LoadedTrust } from '../../bundle/index.js';
import { writeFileAtomic } from '../durable.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import type { Layout } from '../layout.js';

export interface PinnedRoot {
  subject: string;
  fingerprint: string;
}

export async function pinTrust(layout: Layout, location: string, trust: LoadedTrust): Promise<PinnedRoot[]> {
  await mkdir(layout.trustDir, { recursive: true, mode: 0o755 });
  await writeFileAtomic(layout.trustRoots, trust.roots.map((root) => root.pem.trim()).join('\n') + '\n');
  if ((await stat(location)).isDirectory()) {
    const list = join(location, REVOCATION_LIST_FILE);
    const present = await stat(list).then(
      () => true,
      () => false,
    );
    if (present) await writeFileAtomic(layout.trustRevocations, await readFile(list));
  }
  return trust.roots.map((root) => ({ subject: root.x509.subject.replaceAll('\n', ', '), fingerprint: root.fingerprint }));
}

export async function loadPinnedTrust(layout: Layout): Promise<LoadedTrust> {
  return loadTrust(layout.trustDir).catch((cause: unknown) => {
    throw new InstallError(InstallErrorCodes.STATE_CORRUPT, `the pinned trust in ${layout.trustDir} is unusable`, {
      cause,
      hint: 'It was written at install; restore it from a backup, or uninstall and install again with --trust.',
    });
  });
}

/** The pinned roots as status shows them. */
export async function pinnedRoots(layout: Layout): Promise<PinnedRoot[]> {
  const text = await readFile(layout.trustRoots, 'utf8').catch(() => '');
  return splitPemCertificates(text).map((pem) => ({
    subject: new X509Certificate(pem).subject.replaceAll('\n', ', '),
    fingerprint: certificateFingerprint(pem),
  }));
}
