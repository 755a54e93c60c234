import { Args, Flags } from '@oclif/core';
import { healthTimeoutFlag, LifecycleCommand } from '../lifecycle-command.js';
import { installBundle, type InstallResult } from '../lifecycle/index.js';
import { describeHealth } from '../describe.js';

export default class Install extends LifecycleCommand {
  static override summary = 'Install a bundle: verify, extract, pin the trust root, start and wait for health.';
  static override description =
    'Verifies FILE against --trust while extracting it into PREFIX/releases/<version>, pins the trust root and the ' +
    "bundle's sequence under PREFIX/etc, prepares PREFIX/var, switches PREFIX/current atomically, starts the services " +
    '(through a systemd unit it writes, where systemd is PID 1) and waits until they are healthy. On failure nothing stays installed.';
  static override examples = [
    '<%= config.bin %> install airlock-0.1.0.airlock --trust root.crt',
    '<%= config.bin %> install airlock-0.1.0.airlock --trust root.crt --prefix /srv/airlock --no-start',
  ];
  static override args = { file: Args.file({ description: 'bundle file', required: true, exists: true }) };
  static override flags = {
    trust: Flags.string({ description: 'root certificate file (or folder of roots) to verify with and pin', required: true }),
    start: Flags.boolean({ description: 'start the services and wait for health (--no-start to only install)', default: true, allowNo: true }),
    'health-timeout': healthTimeoutFlag,
  };

  async run(): Promise<InstallResult> {
    const { args, flags } = await this.parse(Install);
    const ctx = await this.context(flags);
    const progress = this.progress('extracting');
    try {
      const result = await installBundle(args.file, ctx, { trust: flags.trust, start: flags.start, onProgress: progress.update });
      progress.done();
      const { release } = result;
      this.note(`installed ${release.name} ${release.version} (sequence ${release.sequence}) into ${result.prefix}`);
      for (const root of result.trust) this.note(`pinned trust root ${root.subject} (SHA-256 ${root.fingerprint})`);
      if (result.health) for (const line of describeHealth(result.health.services)) this.note(line);
      else this.note('not started (--no-start): run `airlock up`');
      return result;
    } finally {
      progress.done();
    }
  }
}
