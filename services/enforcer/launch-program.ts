/**
 * Which file the launcher executes. It executes through a descriptor
 * (execveat AT_EMPTY_PATH) that is closed on exec, and the kernel cannot run a
 * script through such a descriptor, so a script's `#!` line is resolved here,
 * the way the kernel would: the interpreter becomes the program, with the
 * optional argument and the script's path in front of the arguments.
 */
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { LaunchError, LaunchErrorCodes } from './errors.js';

/** The kernel reads at most this much of a `#!` line (BINPRM_BUF_SIZE). */
const SHEBANG_MAX = 256;

export interface ResolvedProgram {
  /** The ELF file to execute. */
  program: string;
  argv: string[];
  /** The script, when the command named one. */
  script?: string;
}

export interface Shebang {
  interpreter: string;
  /** The single optional argument (everything after the interpreter, trimmed). */
  arg?: string;
}

/** Parses a `#!` line as Linux does; undefined when the bytes do not start with one. */
export function parseShebang(head: Uint8Array): Shebang | undefined {
  if (head[0] !== 0x23 || head[1] !== 0x21) return undefined;
  const text = Buffer.from(head.subarray(2, SHEBANG_MAX)).toString('latin1');
  const line = (text.split('\n')[0] ?? '').replace(/^[ \t]+/, '').replace(/[ \t\r]+$/, '');
  const split = /[ \t]/.exec(line);
  const interpreter = split ? line.slice(0, split.index) : line;
  const arg = split ? line.slice(split.index).replace(/^[ \t]+/, '') : '';
  if (interpreter === '') return undefined;
  return arg === '' ? { interpreter } : { interpreter, arg };
}

function notFound(message: string, details: Record<string, unknown>, hint: string): LaunchError {
  return new LaunchError(LaunchErrorCodes.PROGRAM_NOT_FOUND, message, { hint, details });
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const st = await stat(path);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

async function readHead(path: string): Promise<Uint8Array> {
  const file = await open(path, constants.O_RDONLY);
  try {
    const buf = Buffer.alloc(SHEBANG_MAX);
    const { bytesRead } = await file.read(buf, 0, SHEBANG_MAX, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/**
 * Finds command[0] (a path, relative to the workspace, or a name looked up in
 * `searchPath`) and resolves a script to its interpreter.
 */
export async function resolveProgram(command: readonly string[], opts: { workspace: string; searchPath: string }): Promise<ResolvedProgram> {
  const [name, ...args] = command;
  if (name === undefined || name === '') throw notFound('no command to run', {}, 'give the command after "--"');
  let path: string | undefined;
  if (name.includes('/')) {
    path = isAbsolute(name) ? name : resolve(opts.workspace, name);
    if (!(await isExecutableFile(path))) path = undefined;
  } else {
    for (const dir of opts.searchPath.split(':').filter((d) => isAbsolute(d))) {
      if (await isExecutableFile(join(dir, name))) {
        path = join(dir, name);
        break;
      }
    }
  }
  if (path === undefined) {
    throw notFound(`"${name}" is not an executable file`, { command: name }, 'give an absolute path, or a name found in the agent’s PATH');
  }
  const shebang = parseShebang(await readHead(path));
  if (!shebang) return { program: path, argv: [name, ...args] };
  const { interpreter, arg } = shebang;
  if (!isAbsolute(interpreter) || !(await isExecutableFile(interpreter)) || parseShebang(await readHead(interpreter))) {
    throw notFound(`the interpreter "${interpreter}" of ${path} is not an absolute path to an executable program`, { script: path, interpreter }, 'name the interpreter by its absolute path in the "#!" line (not another script)');
  }
  return { program: interpreter, argv: [interpreter, ...(arg === undefined ? [] : [arg]), path, ...args], script: path };
}
