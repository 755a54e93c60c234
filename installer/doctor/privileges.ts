import type { CheckGroup } from './types.js';

export const privilegeChecks: CheckGroup = {
  id: 'privileges',
  title: 'privileges',
  run: async (ctx) => [
    ctx.isRoot
      ? { id: 'privileges.root', status: 'pass', message: 'running as root' }
      : {
          id: 'privileges.root',
          status: 'warn',
          message: `running as uid ${process.geteuid?.() ?? '?'}, not root: some checks are limited`,
          hint: 'install, upgrade, rollback, uninstall, up and down need root; run doctor as root for the full picture.',
        },
  ],
};
