/** The lifecycle pipelines the commands call. */
export { lifecycleContext, type ContextOptions, type LifecycleContext } from './context.js';
export { installBundle, type InstallOptions, type InstallResult } from './install.js';
export { upgrade, type UpgradeOptions, type UpgradeResult } from './upgrade.js';
export { rollback, type RollbackResult } from './rollback.js';
export { uninstall, type UninstallOptions, type UninstallResult } from './uninstall.js';
export { up, upForeground, down, type UpResult } from './updown.js';
export { status, type StatusReport } from './status.js';
export { requireRoot } from './privileges.js';
