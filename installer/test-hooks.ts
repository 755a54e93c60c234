/**
 * TEST-ONLY crash injection. The crash-safety suite sets
 * AIRLOCK_TEST_CRASH_AT=<point> (or <point>#<n> for the n-th time the point
 * is passed) and the process SIGKILLs itself there, exactly as a power cut
 * or `kill -9` would stop it. Unset, every call is a no-op. Nothing in a
 * real deployment sets this variable.
 */
const CRASH_ENV = 'AIRLOCK_TEST_CRASH_AT';
const passes = new Map<string, number>();

export function crashPoint(name: string): void {
  const wanted = process.env[CRASH_ENV];
  if (wanted === undefined) return;
  const pass = (passes.get(name) ?? 0) + 1;
  passes.set(name, pass);
  if (wanted === name || wanted === `${name}#${pass}`) process.kill(process.pid, 'SIGKILL');
}

