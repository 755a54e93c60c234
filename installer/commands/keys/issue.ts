import { Flags } from '@oclif/core';
import { issueKeys, type KeyFiles } from '../../../bundle/index.js';
import { AirlockCommand } from '../../base-command.js';

export default class KeysIssue extends AirlockCommand {
  static override summary = 'Issue another signer certificate from the root CA.';
  static override description = 'Writes NAME.key and NAME.crt into --out: an RSA-3072 signer with digitalSignature and codeSigning usage.';
  static override examples = ['<%= config.bin %> keys issue --root-key keys/root.key --root-cert keys/root.crt --cn "Release Signer 2" --out keys'];
  static override flags = {
    'root-key': Flags.file({ description: 'root CA private key', required: true, exists: true }),
    'root-cert': Flags.file({ description: 'root CA certificate', required: true, exists: true }),
    cn: Flags.string({ description: 'common name of the new signer', required: true }),
    out: Flags.directory({ description: 'folder to write the key and certificate into', required: true }),
    name: Flags.string({ description: 'file name stem (default: from --cn)' }),
    days: Flags.integer({ description: 'validity in days', default: 365, min: 1 }),
  };

  async run(): Promise<KeyFiles & { fingerprint: string }> {
    const { flags } = await this.parse(KeysIssue);
    const name = flags.name ?? (flags.cn.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'signer');
    const result = await issueKeys({
      rootKey: flags['root-key'],
      rootCert: flags['root-cert'],
      commonName: flags.cn,
      days: flags.days,
      outDir: flags.out,
      name,
    });
    this.note(`signer ${result.certificate} (SHA-256 ${result.fingerprint})`);
    return result;
  }
}
