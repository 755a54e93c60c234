import { Flags } from '@oclif/core';
import { revokeSigner } from '../../../bundle/index.js';
import { AirlockCommand } from '../../base-command.js';

export default class KeysRevoke extends AirlockCommand {
  static override summary = 'Add a signer to the root-signed revocation list.';
  static override description =
    'Creates or extends --list (revocations.json), signed by the root. Put it in the --trust folder ' +
    '(or pass --revocations) and bundles signed by that signer are refused with BUNDLE_SIGNER_REVOKED.';
  static override examples = [
    '<%= config.bin %> keys revoke --root-key keys/root.key --root-cert keys/root.crt --cert keys/signer.crt --list trust/revocations.json --reason "key lost"',
  ];
  static override flags = {
    'root-key': Flags.file({ description: 'root CA private key', required: true, exists: true }),
    'root-cert': Flags.file({ description: 'root CA certificate', required: true, exists: true }),
    cert: Flags.file({ description: 'signer certificate to revoke', required: true, exists: true }),
    list: Flags.file({ description: 'revocation list to create or extend', required: true }),
    reason: Flags.string({ description: 'why the signer is revoked', default: 'unspecified' }),
  };

  async run(): Promise<{ list: string; revoked: number; fingerprint: string }> {
    const { flags } = await this.parse(KeysRevoke);
    const result = await revokeSigner({
      rootKey: flags['root-key'],
      rootCert: flags['root-cert'],
      signerCert: flags.cert,
      list: flags.list,
      reason: flags.reason,
    });
    this.note(`revoked ${result.fingerprint}; ${result.list} now lists ${result.revoked} signer(s)`);
    return result;
  }
}
