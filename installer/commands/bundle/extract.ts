import { Args, Flags } from '@oclif/core';
import { extractBundle } from '../../../bundle/index.js';
import { AirlockCommand } from '../../base-command.js';
import { trustFlags, trustFrom } from '../../flags.js';
import { describeSummary, summarize, type BundleSummary } from '../../summary.js';

export default class BundleExtract extends AirlockCommand {
  static override summary = 'Verify a bundle while extracting it into a new folder.';
  static override description =
    'Streams into a staging folder beside --to, checking every byte; files and folders are flushed to disk and ' +
    'the staging folder is renamed to --to only when everything verified. On any failure nothing is left behind.';
  static override examples = ['<%= config.bin %> bundle extract airlock-0.1.0.airlock --trust keys/root.crt --to /srv/release'];
  static override args = { file: Args.file({ description: 'bundle file', required: true, exists: true }) };
  static override flags = {
    ...trustFlags,
    to: Flags.string({ description: 'folder to create (must not exist, or be empty)', required: true }),
  };

  async run(): Promise<BundleSummary & { target: string }> {
    const { args, flags } = await this.parse(BundleExtract);
    const trust = await trustFrom(flags);
    const progress = this.progress('extracting');
    const controller = new AbortController();
    const cancel = (): void => controller.abort();
    process.once('SIGINT', cancel).once('SIGTERM', cancel);
    try {
      const bundle = await extractBundle(args.file, { trust, to: flags.to, onProgress: progress.update, signal: controller.signal });
      progress.done();
      this.note(`extracted ${args.file} into ${bundle.target}`);
      for (const line of describeSummary(summarize(bundle))) this.note(line);
      return { ...summarize(bundle), target: bundle.target };
    } finally {
      progress.done();
      process.off('SIGINT', cancel).off('SIGTERM', cancel);
    }
  }
}
