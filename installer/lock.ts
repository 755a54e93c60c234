/**
 * Kernel-held locks. Listening on an abstract unix socket (Linux) is an
 * exclusive claim the kernel drops the instant its holder dies, SIGKILL
 * included, so a crashed upgrade never leaves a stale lock to break by hand.
 * The socket is close-on-exec, so processes we start never inherit it.
 */
import { createServer, type Server } from 'node:net';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { InstallError, InstallErrorCodes } from './errors.js';
import { writeJsonAtomic } from './durable.js';
import type { Layout } from './layout.js';

export interface HeldLock {
  release(): Promise<void>;
}

/** Claims the abstract socket `name`; resolves false when another process holds it. */
export async function claimAbstractSocket(name: string): Promise<Server | undefined> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') resolve(undefined);
      else reject(error);
    });
    server.listen({ path: `\0${name}` }, () => {
      // The claim alone must not keep a finished command alive.
      server.unref();
      resolve(server);
    });
  });
}

interface Holder {
  pid: number;
  command: string;
  since: string;
}

/** One lifecycle command at a time per prefix (install, upgrade, rollback, uninstall, up, down). */
export async function acquireLifecycleLock(layout: Layout, command: string): Promise<HeldLock> {
  const server = await claimAbstractSocket(layout.lifecycleLockName);
  if (!server) {
    const holder = await readFile(layout.lockHolder, 'utf8')
      .then((text) => JSON.parse(text) as Holder)
      .catch(() => undefined);
    throw new InstallError(
      InstallErrorCodes.LOCKED,
      `another lifecycle command is running on ${layout.prefix}${holder ? `: \`airlock ${holder.command}\` (pid ${holder.pid}, since ${holder.since})` : ''}`,
      { hint: 'Wait for it to finish, then try again.', details: holder ? { holder } : {} },
    );
  }
  // The holder record only explains the lock; a stale one (after a crash) is simply overwritten.
  const record: Holder = { pid: process.pid, command, since: new Date().toISOString() };
  try {
    await mkdir(layout.run, { recursive: true });
    await writeJsonAtomic(layout.lockHolder, record, { durable: false });
  } catch (error) {
    server.close();
    throw error;
  }
  return {
    release: async () => {
      await rm(layout.lockHolder, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
