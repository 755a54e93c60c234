/**
 * YAML text → validated policy document, keeping every node's position so
 * each problem is reported as `file:line:col key.path: message`. Pure: takes
 * the bytes and a display name for the file.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type * as z from 'zod';
import { formatKeyPath, issuesError, type KeyPath, type PolicyIssue, type SourcePosition } from './issues.js';
import { PolicyFileSchema, type AgentPolicyDoc } from './schema.js';

/** Policies are small; a larger file is a mistake (or an attempt to stall the compiler). */
export const MAX_POLICY_BYTES = 1024 * 1024;

export interface ParsedPolicy {
  doc: AgentPolicyDoc;
  /** Where a key path is in the source (the key itself when `key` is true, else its value). */
  locate(path: KeyPath, key?: boolean): SourcePosition;
}

export function parsePolicy(text: string, file: string): ParsedPolicy {
  const lineCounter = new LineCounter();
  const at = (offset: number): SourcePosition => ({ file, ...lineCounter.linePos(offset) });
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
    throw issuesError([{ file, line: 1, col: 1, path: '', message: `the policy is larger than ${MAX_POLICY_BYTES} bytes` }]);
  }
  const yaml = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });

  const yamlIssues = [...yaml.errors, ...yaml.warnings].map((e): PolicyIssue => {
    const pos = at(e.pos[0]);
    const message = e.code === 'DUPLICATE_KEY' ? 'duplicate key' : `invalid YAML: ${firstLine(e.message)}`;
    return { ...pos, path: formatKeyPath(pathAt(yaml, e.pos[0])), message };
  });
  if (yamlIssues.length > 0) throw issuesError(yamlIssues);

  const locate = (path: KeyPath, key = false): SourcePosition => at(offsetOf(yaml, path, key));
  let data: unknown;
  try {
    data = yaml.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw issuesError([{ ...at(0), path: '', message: `invalid YAML: ${(e as Error).message}` }]);
  }
  if (data === null || data === undefined) {
    throw issuesError([{ ...at(0), path: '', message: 'the policy is empty: it needs the key agent_policy' }]);
  }
  const result = PolicyFileSchema.safeParse(data, { reportInput: true });
  if (!result.success) throw issuesError(result.error.issues.flatMap((i) => schemaIssues(i, locate)));
  return { doc: result.data.agent_policy, locate };
}

function schemaIssues(issue: z.core.$ZodIssue, locate: ParsedPolicy['locate']): PolicyIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => ({ ...locate([...path, k], true), path: formatKeyPath([...path, k]), message: unknownKeyMessage(path, k) }));
  }
  // A missing key is reported where its parent is.
  const present = issue.code === 'invalid_type' && issue.input === undefined ? path.slice(0, -1) : path;
  const message = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
  return [{ ...locate(present), path: formatKeyPath(path), message }];
}

function unknownKeyMessage(parent: KeyPath, key: string): string {
  const moved = ['extends', 'on_violation', 'audit', 'network', 'filesystem', 'execution', 'name'];
  if (parent.length === 0 && moved.includes(key)) return `unknown key (did you mean agent_policy.${key}?)`;
  return 'unknown key';
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** Offset of the node at `path` (or of its key), falling back to the nearest existing ancestor. */
function offsetOf(doc: Document, path: KeyPath, key: boolean): number {
  for (let n = path.length; n >= 0; n--) {
    const prefix = path.slice(0, n);
    if (key && n === path.length && n > 0) {
      const parent = doc.getIn(prefix.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === prefix[n - 1]);
        if (isScalar(pair?.key) && pair.key.range) return pair.key.range[0];
      }
      continue;
    }
    const node = n === 0 ? doc.contents : doc.getIn(prefix, true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) return range[0];
  }
  return 0;
}

/** The key path of the innermost node that contains an offset (for YAML-level errors). */
function pathAt(doc: Document, offset: number): KeyPath {
  const path: Array<string | number> = [];
  let node: unknown = doc.contents;
  for (;;) {
    const n = node as { items?: unknown[] } | null;
    if (!n || !Array.isArray(n.items)) return path;
    let next: unknown;
    n.items.forEach((item, i) => {
      if (next !== undefined) return;
      const pair = item as { key?: { value?: unknown; range?: number[] }; value?: { range?: number[] } };
      if (isMap(node) && pair.key?.range) {
        const end = pair.value?.range?.[2] ?? pair.key.range[2]!;
        if (offset >= pair.key.range[0]! && offset <= end) {
          path.push(String(pair.key.value));
          next = pair.value ?? null;
        }
      } else {
        const r = (item as { range?: number[] }).range;
        if (r && offset >= r[0]! && offset <= r[2]!) {
          path.push(i);
          next = item;
        }
      }
    });
    if (next === undefined || next === null) return path;
    node = next;
  }
}
