import { Flags } from '@oclif/core';
import { initKeys, type InitKeysResult } from '../../../bundle/index.js';
import { AirlockCommand } from '../../base-command.js';

export default class KeysInit extends AirlockCommand {
  static override summary = 'Make an offline root CA and a first signer.';
  static override description =
    'Writes root.key, root.crt, signer.key and signer.crt (RSA-3072) into --out. Keep root.key offline; ' +
    'pin root.crt on appliances with --trust. Existing files are never overwritten.';
  static override examples = ['<%= config.bin %> keys init --out ./keys', '<%= config.bin %> keys init --out ./keys --cn "Acme Airlock Root" --days 3650'];
  static override flags = {
    out: Flags.directory({ description: 'folder to write the keys into', required: true }),
    cn: Flags.string({ description: 'common name of the root CA', default: 'Airlock Offline Root' }),
    days: Flags.integer({ description: 'validity of the root CA in days', default: 3650, min: 1 }),
    'signer-cn': Flags.string({ description: 'common name of the first signer', default: 'Airlock Signer 1' }),
    'signer-days': Flags.integer({ description: 'validity of the signer in days', default: 365, min: 1 }),
  };

  async run(): Promise<InitKeysResult> {
    const { flags } = await this.parse(KeysInit);
    const result = await initKeys(flags.out, {
      rootName: flags.cn,
      signerName: flags['signer-cn'],
      rootDays: flags.days,
      signerDays: flags['signer-days'],
    });
    this.note(`root CA      ${result.root.certificate}`);
    this.note(`signer       ${result.signer.certificate}`);
    this.note(`root SHA-256 fingerprint: ${result.root.fingerprint}`);
    this.note('Keep root.key offline. Pin root.crt on each appliance with --trust.');
    return result;
  }
}
