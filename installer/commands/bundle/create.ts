import { readFile } from 'node:fs/promises';
import { Args, Flags } from '@oclif/core';
import { createBundle, splitPemCertificates, BundleErrorCodes, BundleInputError } from '../../../bundle/index.js';
import { AirlockCommand } from '../../base-command.js';

interface CreateOutput {
  file: string;
  name: string;
  version: string;
  sequence: number;
  expires: string;
  files: number;
  bytes: number;
  manifestSha256: string;
}

export default class BundleCreate extends AirlockCommand {
  static override summary = 'Build and sign a bundle from an image recipe.';
  static override description =
    'Reads IMAGE_DIR/image.yaml, hashes every file once while writing the tar, and signs manifest.json with ' +
    'each --signer-key/--signer-cert pair (repeat the flags for several signers, in matching order).';
  static override examples = [
    '<%= config.bin %> bundle create images/default --signer-key keys/signer.key --signer-cert keys/signer.crt --out airlock.airlock',
    '<%= config.bin %> bundle create images/default --signer-key a.key --signer-cert a.crt --signer-key b.key --signer-cert b.crt --sequence 7 --expires 30d --out airlock.airlock',
  ];
  static override args = { image: Args.directory({ description: 'image folder holding image.yaml', required: true, exists: true }) };
  static override flags = {
    'signer-key': Flags.file({ description: 'signer private key (repeatable)', required: true, multiple: true, exists: true }),
    'signer-cert': Flags.file({ description: 'signer certificate, optionally followed by intermediates (repeatable)', required: true, multiple: true, exists: true }),
    version: Flags.string({ description: 'override the version in image.yaml' }),
    sequence: Flags.integer({ description: 'override the anti-rollback sequence in image.yaml', min: 0 }),
    expires: Flags.string({ description: 'expiry: a duration (90d, 12h) or an ISO date' }),
    threshold: Flags.integer({ description: 'override the signature threshold in image.yaml', min: 1 }),
    out: Flags.string({ description: 'bundle file to write', required: true }),
  };

  async run(): Promise<CreateOutput> {
    const { args, flags } = await this.parse(BundleCreate);
    const keys = flags['signer-key'];
    const certs = flags['signer-cert'];
    if (keys.length !== certs.length) {
      throw new BundleInputError(BundleErrorCodes.KEY_INVALID, `${keys.length} --signer-key but ${certs.length} --signer-cert`, {
        hint: 'Give one --signer-cert for each --signer-key, in the same order.',
      });
    }
    const signers = await Promise.all(
      keys.map(async (key, i) => ({
        privateKeyPem: await readFile(key, 'utf8'),
        certificatePems: splitPemCertificates(await readFile(certs[i]!, 'utf8')),
      })),
    );
    const progress = this.progress('bundling');
    try {
      const result = await createBundle(args.image, {
        signers,
        out: flags.out,
        onProgress: progress.update,
        ...(flags.version !== undefined ? { version: flags.version } : {}),
        ...(flags.sequence !== undefined ? { sequence: flags.sequence } : {}),
        ...(flags.expires !== undefined ? { expires: flags.expires } : {}),
        ...(flags.threshold !== undefined ? { threshold: flags.threshold } : {}),
      });
      progress.done();
      const { manifest } = result;
      this.note(`wrote ${result.file}: ${manifest.name} ${manifest.version} (sequence ${manifest.sequence}), ${manifest.files.length} files, ${result.bytes} bytes`);
      this.note(`manifest sha256 ${result.manifestSha256}; expires ${manifest.expires}`);
      return {
        file: result.file,
        name: manifest.name,
        version: manifest.version,
        sequence: manifest.sequence,
        expires: manifest.expires,
        files: manifest.files.length,
        bytes: result.bytes,
        manifestSha256: result.manifestSha256,
      };
    } finally {
      progress.done();
    }
  }
}
