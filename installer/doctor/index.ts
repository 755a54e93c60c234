/**
 * `airlock doctor`: can this host run the appliance? Each check group is a
 * module returning pass/warn/fail results with hints; the registry below is
 * the one place to add a group (the enforcer adds its deeper kernel checks).
 */
import { cgroupChecks } from './cgroups.js';
import { diskChecks } from './disk.js';
import { ebpfChecks, kernelAuditChecks } from './ebpf.js';
import { kernelChecks } from './kernel.js';
import { landlockChecks, seccompChecks } from './launcher.js';
import { lsmChecks } from './lsm.js';
import { portChecks } from './ports.js';
import { privilegeChecks } from './privileges.js';
import type { CheckGroup, CheckResult, DoctorContext } from './types.js';

export type { CheckGroup, CheckResult, CheckStatus, DoctorContext } from './types.js';

export const checkGroups: CheckGroup[] = [
  privilegeChecks,
  kernelChecks,
  lsmChecks,
  cgroupChecks,
  // The enforcer's layers, probed for real: `airlock run` refuses agents where one fails.
  landlockChecks,
  seccompChecks,
  ebpfChecks,
  kernelAuditChecks,
  diskChecks,
  portChecks,
];

export interface DoctorReport {
  ok: boolean;
  counts: Record<CheckResult['status'], number>;
  checks: CheckResult[];
}

export async function runDoctor(ctx: DoctorContext, groups: CheckGroup[] = checkGroups): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  for (const group of groups) {
    try {
      checks.push(...(await group.run(ctx)));
    } catch (error) {
      // A broken check must show up as a failure, never hide the others.
      checks.push({ id: group.id, status: 'fail', message: `the ${group.title} checks could not run: ${(error as Error).message}` });
    }
  }
  const counts = { pass: 0, warn: 0, fail: 0 };
  for (const check of checks) counts[check.status] += 1;
  return { ok: counts.fail === 0, counts, checks };
}
