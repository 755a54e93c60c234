/**
 * TEST-ONLY fault injection at named points of the lifecycle pipelines.
 *
 *   AIRLOCK_TEST_CRASH_AT=<point>[#n]  the process SIGKILLs itself there (the
 *                                      n-th time it passes), as a power cut or
 *                                      `kill -9` would stop it.
 *   AIRLOCK_TEST_STOP_AT=<point>[#n]   the process SIGSTOPs itself there, so a
 *                                      test can change the world (fill the disk)
 *                                      before it sends SIGCONT.
 *
 * Unset, every call is a no-op. Nothing in a real deployment sets these, and
 * the processes airlock starts get a clean environment without them.
 */
const passes = new Map<string, number>();

function wanted(variable: string, name: string, pass: number): boolean {
  const value = process.env[variable];
  return value !== undefined && (value === name || value === `${name}#${pass}`);
}

export function faultPoint(name: string): void {
  if (process.env.AIRLOCK_TEST_CRASH_AT === undefined && process.env.AIRLOCK_TEST_STOP_AT === undefined) return;
  const pass = (passes.get(name) ?? 0) + 1;
  passes.set(name, pass);
  if (wanted('AIRLOCK_TEST_CRASH_AT', name, pass)) process.kill(process.pid, 'SIGKILL');
  if (wanted('AIRLOCK_TEST_STOP_AT', name, pass)) process.kill(process.pid, 'SIGSTOP');
}
