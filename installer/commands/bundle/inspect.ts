import { Args } from '@oclif/core';
import { inspectBundle, type InspectResult } from '../../../bundle/index.js';
import { AirlockCommand } from '../../base-command.js';
import { formatBytes } from '../../progress.js';

export default class BundleInspect extends AirlockCommand {
  static override summary = 'Show what a bundle declares, WITHOUT verifying it.';
  static override description =
    'Prints the manifest, the claimed signers and the sizes. Nothing here is verified: use `airlock bundle verify` ' +
    'before trusting any of it.';
  static override examples = ['<%= config.bin %> bundle inspect airlock-0.1.0.airlock --json'];
  static override args = { file: Args.file({ description: 'bundle file', required: true, exists: true }) };

  async run(): Promise<InspectResult> {
    const { args } = await this.parse(BundleInspect);
    const result = await inspectBundle(args.file);
    const { manifest } = result;
    this.note('NOT VERIFIED: inspect only reads what the bundle claims. Run `airlock bundle verify` to check it.');
    this.note(`bundle     ${manifest.name} ${manifest.version} (sequence ${manifest.sequence})`);
    this.note(`created    ${manifest.created}, expires ${manifest.expires}`);
    this.note(`threshold  ${manifest.threshold} signer(s)`);
    for (const s of result.signatures) this.note(`signature  ${s.alg} by ${s.subject} (issuer ${s.issuer}, until ${s.notAfter})`);
    this.note(`size       ${formatBytes(result.bundleBytes)} bundle, ${formatBytes(result.payloadBytes)} payload in ${manifest.files.length} files`);
    for (const c of manifest.components) {
      const files = manifest.files.filter((f) => f.component === c.name);
      const bytes = files.reduce((sum, f) => sum + f.size, 0);
      this.note(`component  ${c.name}: ${files.length} files, ${formatBytes(bytes)}${c.description ? ` — ${c.description}` : ''}`);
    }
    return result;
  }
}
