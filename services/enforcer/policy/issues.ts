/**
 * Problems found in a policy, each tied to a place in its source: the file,
 * the 1-based line and column, and the key path (`agent_policy.network.allow_egress[2]`).
 * Every check collects issues instead of stopping at the first, so one run of
 * the compiler shows the author everything to fix.
 */
import { PolicyError, PolicyErrorCodes, type PolicyErrorCode } from '../errors.js';

export type KeyPath = ReadonlyArray<string | number>;

export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

export interface PolicyIssue extends SourcePosition {
  /** Dotted key path, array items in brackets. */
  path: string;
  message: string;
}

/** Thrown by value parsers (paths, egress entries); the caller attaches the position. */
export class ValueError extends Error {}

export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

export function formatIssue(issue: PolicyIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  return issue.path === '' ? `${where} ${issue.message}` : `${where} ${issue.path}: ${issue.message}`;
}

export const POLICY_HINTS: Record<PolicyErrorCode, string> = {
  POLICY_INVALID: 'Fix the policy at the positions shown; the language is described in services/enforcer/policy/README.md.',
  POLICY_NOT_FOUND: 'Give a built-in profile (sandbox, development, production), a path to a .yaml file, or a policy name from the policy repository.',
  POLICY_UNRESOLVED: 'Check the host name and that the configured DNS resolver answers for it, or list the address instead.',
};

/** One error for all issues: the message lists every one of them, details.issues has them as data. */
export function issuesError(issues: PolicyIssue[], code: PolicyErrorCode = PolicyErrorCodes.INVALID): PolicyError {
  const sorted = [...issues].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  const lines = sorted.map(formatIssue);
  const message = lines.length === 1 ? lines[0]! : `${lines.length} problems in the policy:\n  ${lines.join('\n  ')}`;
  return new PolicyError(code, message, { hint: POLICY_HINTS[code], details: { issues: sorted } });
}
