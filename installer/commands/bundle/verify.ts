import { Args } from '@oclif/core';
import { readBundle } from '../../../bundle/index.js';
import { AirlockCommand } from '../../base-command.js';
import { trustFlags, trustFrom } from '../../flags.js';
import { describeSummary, summarize, type BundleSummary } from '../../summary.js';

export default class BundleVerify extends AirlockCommand {
  static override summary = 'Verify a bundle: signatures, trust chain, expiry and every payload byte.';
  static override description =
    'One streaming pass: the signatures over manifest.json are checked against --trust first, then every ' +
    'payload entry is hashed and compared with the manifest. Exit 0 when valid; otherwise a stable error code.';
  static override examples = ['<%= config.bin %> bundle verify airlock-0.1.0.airlock --trust keys/root.crt'];
  static override args = { file: Args.file({ description: 'bundle file', required: true, exists: true }) };
  static override flags = { ...trustFlags };

  async run(): Promise<BundleSummary & { verified: true }> {
    const { args, flags } = await this.parse(BundleVerify);
    const trust = await trustFrom(flags);
    const progress = this.progress('verifying');
    try {
      const bundle = await readBundle(args.file, { trust, onProgress: progress.update });
      const summary = summarize(bundle);
      progress.done();
      this.note(`OK ${args.file}`);
      for (const line of describeSummary(summary)) this.note(line);
      return { verified: true, ...summary };
    } finally {
      progress.done();
    }
  }
}
