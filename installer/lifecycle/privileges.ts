/** Lifecycle commands change the host (processes, files under the prefix, later kernel state): root only. */
import { InstallError, InstallErrorCodes } from '../errors.js';

export function requireRoot(command: string): void {
  const uid = process.geteuid?.();
  if (uid === 0) return;
  throw new InstallError(InstallErrorCodes.NEEDS_ROOT, `\`airlock ${command}\` must run as root (running as uid ${uid ?? 'unknown'})`, {
    hint: `Run it as root, e.g. \`sudo airlock ${command} ...\`. \`airlock status\` and \`airlock doctor\` work without root.`,
    details: { uid },
  });
}
