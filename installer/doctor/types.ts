/** The shape every doctor check group follows; add a group by adding a module to the registry in index.ts. */
import type { Layout } from '../layout.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  /** Stable, dotted: `<group>.<check>` (e.g. `kernel.btf`). */
  id: string;
  status: CheckStatus;
  message: string;
  /** What to do about a warn or fail. */
  hint?: string;
}

export interface DoctorContext {
  layout: Layout;
  isRoot: boolean;
}

export interface CheckGroup {
  id: string;
  title: string;
  run(ctx: DoctorContext): Promise<CheckResult[]>;
}
