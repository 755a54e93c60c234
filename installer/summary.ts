/** The short, stable description of a verified bundle that commands print and return. */
import type { VerifiedBundle } from '../bundle/index.js';

export interface BundleSummary {
  file: string;
  name: string;
  version: string;
  sequence: number;
  created: string;
  expires: string;
  manifestSha256: string;
  files: number;
  payloadBytes: number;
  threshold: number;
  signers: Array<{ subject: string; keyId: string; fingerprint: string; root: string }>;
  components: string[];
}

export function summarize(bundle: VerifiedBundle): BundleSummary {
  const { manifest } = bundle;
  return {
    file: bundle.file,
    name: manifest.name,
    version: manifest.version,
    sequence: manifest.sequence,
    created: manifest.created,
    expires: manifest.expires,
    manifestSha256: bundle.manifestSha256,
    files: manifest.files.length,
    payloadBytes: bundle.payloadBytes,
    threshold: bundle.signatures.threshold,
    signers: bundle.signatures.signers.map(({ subject, keyId, fingerprint, root }) => ({ subject, keyId, fingerprint, root })),
    components: manifest.components.map((c) => c.name),
  };
}

export function describeSummary(summary: BundleSummary): string[] {
  return [
    `bundle    ${summary.name} ${summary.version} (sequence ${summary.sequence})`,
    `manifest  sha256 ${summary.manifestSha256}`,
    `payload   ${summary.files} files, ${summary.payloadBytes} bytes; components: ${summary.components.join(', ') || '-'}`,
    `expires   ${summary.expires}`,
    `signers   ${summary.signers.length} of ${summary.threshold} required: ${summary.signers.map((s) => s.subject).join('; ')}`,
  ];
}
