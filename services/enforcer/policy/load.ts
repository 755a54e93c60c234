/**
 * Finding a policy by what the user gave (`--policy NAME|FILE`) and loading a
 * folder of named policies (the policy repository's checkout). The I/O edge of
 * the compiler: reads files, then hands their bytes to preparePolicy().
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { EnforcerError, PolicyError, PolicyErrorCodes } from '../errors.js';
import { prepareProfile, preparePolicy, type PrepareOptions, type PreparedPolicy } from './compile.js';
import { formatKeyPath, issuesError, POLICY_HINTS, type SourcePosition } from './issues.js';
import { MAX_POLICY_BYTES, parsePolicy } from './parse.js';
import { isProfileName, PROFILE_NAMES } from './profiles.js';
import { NAME_PATTERN } from './schema.js';

export interface LoadOptions extends Omit<PrepareOptions, 'file' | 'name'> {
  /** Folder of named policies (`<name>.yaml`), searched after the built-in profiles. */
  policyDir?: string;
}

const POLICY_EXTENSIONS = ['.yaml', '.yml'];

/**
 * `sandbox` | `development` | `production` → the built-in profile;
 * anything with a slash or a .yaml/.yml ending → that file;
 * any other name → `<policyDir>/<name>.yaml` (or .yml).
 */
export async function loadPolicy(ref: string, options: LoadOptions = {}): Promise<PreparedPolicy> {
  const { policyDir, ...prepare } = options;
  if (isProfileName(ref)) return prepareProfile(ref, prepare);
  if (ref.includes('/') || POLICY_EXTENSIONS.includes(extname(ref))) return loadPolicyFile(ref, prepare);
  if (!NAME_PATTERN.test(ref)) throw notFound(ref, `"${ref}" is neither a policy name nor a path to a .yaml file`);
  if (policyDir) {
    for (const ext of POLICY_EXTENSIONS) {
      const file = join(policyDir, ref + ext);
      const text = await readPolicyText(file, true);
      if (text !== undefined) return preparePolicy(text, { ...prepare, file, name: ref });
    }
  }
  throw notFound(ref, `no policy named "${ref}" (built-in profiles: ${PROFILE_NAMES.join(', ')}${policyDir ? `; folder: ${policyDir}` : ''})`);
}

export async function loadPolicyFile(file: string, options: Omit<PrepareOptions, 'file'> = {}): Promise<PreparedPolicy> {
  const text = await readPolicyText(file, false);
  return preparePolicy(text!, { name: basename(file, extname(file)), ...options, file });
}

export interface PolicyFolder {
  /** Policies that compiled, by name (the file stem). */
  policies: Map<string, PreparedPolicy>;
  /** One error per file that did not (POLICY_INVALID with file:line:col for each problem). */
  errors: EnforcerError[];
}

/** Loads every `*.yaml`/`*.yml` of a folder (not recursive); a bad file does not stop the others. */
export async function loadPolicyFolder(dir: string, options: Omit<PrepareOptions, 'file' | 'name'> = {}): Promise<PolicyFolder> {
  const result: PolicyFolder = { policies: new Map(), errors: [] };
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() && POLICY_EXTENSIONS.includes(extname(d.name))).map((d) => d.name).sort();
  } catch (e) {
    throw new PolicyError(PolicyErrorCodes.NOT_FOUND, `cannot read the policy folder ${dir}: ${(e as Error).message}`, { cause: e, hint: POLICY_HINTS.POLICY_NOT_FOUND });
  }
  for (const fileName of names) {
    const file = join(dir, fileName);
    const name = basename(fileName, extname(fileName));
    const problem = (message: string, at: SourcePosition = { file, line: 1, col: 1 }, path = '') => result.errors.push(issuesError([{ ...at, path, message }]));
    if (!NAME_PATTERN.test(name)) problem(`"${name}" cannot name a policy: use letters, digits, ".", "_" or "-"`);
    else if (isProfileName(name)) problem(`"${name}" is a built-in profile: name the policy differently and extend ${name}`);
    else if (result.policies.has(name)) problem(`a policy named "${name}" is already defined by another file`);
    else {
      try {
        const text = (await readPolicyText(file, false))!;
        const prepared = preparePolicy(text, { ...options, file, name });
        if (prepared.name === name) result.policies.set(name, prepared);
        else {
          const key = ['agent_policy', 'name'];
          problem(`says "${prepared.name}" but the file names the policy "${name}": make them agree`, parsePolicy(text, file).locate(key), formatKeyPath(key));
        }
      } catch (e) {
        if (!(e instanceof EnforcerError)) throw e;
        result.errors.push(e);
      }
    }
  }
  return result;
}

async function readPolicyText(file: string, missingOk: boolean): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (missingOk && code === 'ENOENT') return undefined;
    throw notFound(file, `cannot read the policy file ${file}: ${code === 'ENOENT' ? 'it does not exist' : (e as Error).message}`, e);
  }
  const whole = (message: string) => issuesError([{ file, line: 1, col: 1, path: '', message }]);
  if (bytes.length > MAX_POLICY_BYTES) throw whole(`the policy is larger than ${MAX_POLICY_BYTES} bytes`);
  try {
    // Keep a BOM: sourceSha256 must be the hash of the file's bytes.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw whole('the policy is not UTF-8 text');
  }
}

function notFound(ref: string, message: string, cause?: unknown): PolicyError {
  return new PolicyError(PolicyErrorCodes.NOT_FOUND, message, { cause, hint: POLICY_HINTS.POLICY_NOT_FOUND, details: { ref } });
}
