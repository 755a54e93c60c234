/**
 * The agent's workspace: its working directory and the one place every
 * profile lets it write. Between runs it belongs to the resting owner,
 * nobody (uid-pool.ts): the launcher makes what nobody owns there the
 * agent's own uid's for the run and hands it back after. A given one must
 * exist; the default one is made under the install's var/workspaces/, and
 * removed after the run if the agent left nothing in it.
 */
import { chown, mkdir, readdir, rmdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RunError, RunErrorCodes } from './errors.js';

/** Each agent gets a private /tmp (its own tmpfs in its own mount namespace). */
export const AGENT_TMP = '/tmp';

export interface Workspace {
  path: string;
  /** Made for this run (removed afterwards when empty). */
  made: boolean;
}

export async function prepareWorkspace(given: string | undefined, defaults: { dir: string; id: string; uid: number; gid: number }): Promise<Workspace> {
  if (given === undefined) {
    const path = join(defaults.dir, defaults.id);
    await mkdir(defaults.dir, { recursive: true, mode: 0o755 });
    await mkdir(path, { mode: 0o700 });
    await chown(path, defaults.uid, defaults.gid);
    return { path, made: true };
  }
  const path = resolve(given);
  const st = await stat(path).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new RunError(RunErrorCodes.WORKSPACE_INVALID, `the workspace ${path} is not a directory`, { hint: 'Create it first, owned by nobody (uid 65534: each run lends it to its agent), or leave --workspace out to get a fresh one.', details: { path } });
  }
  if (path === AGENT_TMP || path.startsWith(`${AGENT_TMP}/`)) {
    throw new RunError(RunErrorCodes.WORKSPACE_INVALID, `the workspace ${path} lies inside ${AGENT_TMP}, which the agent sees as its own empty tmpfs`, {
      hint: 'Put the workspace elsewhere, e.g. under /var/tmp or /srv.',
      details: { path },
    });
  }
  return { path, made: false };
}

/** Removes a workspace made for the run if the agent left nothing in it. */
export async function releaseWorkspace(workspace: Workspace): Promise<boolean> {
  if (!workspace.made) return false;
  const entries = await readdir(workspace.path).catch(() => ['?']);
  if (entries.length > 0) return false;
  await rmdir(workspace.path);
  return true;
}
