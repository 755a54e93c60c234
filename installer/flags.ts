/** Flags shared by several commands. */
import { Flags } from '@oclif/core';
import { loadTrust, type LoadedTrust } from '../bundle/index.js';

export const trustFlags = {
  trust: Flags.string({
    description: 'trusted root certificate file, or a folder of root certificates (and revocations.json)',
    required: true,
  }),
  revocations: Flags.file({ description: 'extra signed revocation list', multiple: true, exists: true }),
  threshold: Flags.integer({ description: 'require at least this many distinct signers (raises, never lowers, the bundle\'s own)', min: 1 }),
};

export function trustFrom(flags: { trust: string; revocations?: string[]; threshold?: number }): Promise<LoadedTrust> {
  return loadTrust(flags.trust, {
    ...(flags.revocations ? { revocationLists: flags.revocations } : {}),
    ...(flags.threshold ? { minimumThreshold: flags.threshold } : {}),
  });
}
