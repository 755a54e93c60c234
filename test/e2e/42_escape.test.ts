/**
 * The escape suite: every attempt of escape-cases/cases.ts made by a small C
 * agent (escape-cases/escape-probe.c) through the real `airlock run`, as
 * root, on the real kernel, in a temp prefix:
 *
 *  - under `on_violation: deny` the attempt fails with its errno, its audit
 *    event (layer, operation, target, verdict deny) is in the audit file, the
 *    agent goes on, and nothing it aimed at changed;
 *  - under `on_violation: kill` the attempt ends the agent (exit 33, the
 *    violation named, verdict kill), and a marker it prints after the attempt
 *    never appears;
 *  - the same policies let the allowed actions through (positive controls);
 *  - budgets: a fork bomb is held, a memory hog and a timed-out tree killed;
 *  - the same attempts made on the host while agents run are never denied;
 *  - an agent cannot change the metadata of another running agent's files.
 *
 * Deny-mode attempts of one profile share one agent (its denials are paired
 * one to one with the cases, and none may be left over); each kill-mode
 * attempt is its own agent. One run at a time (PARALLEL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { agentCgroups, brokerProcesses, processes, waitFor } from '../helpers/enforcer-run.js';
import { EscapeWorld, expand, fileState, NOBODY, pool, type EscapeRun, type Profile, type Vars } from '../helpers/escape-world.js';
import { ALLOWED, BUDGETS, ESCAPE_CASES, type AuditExpectation, type EscapeCase } from './escape-cases/cases.js';

const EXIT = { VIOLATION: 33, TIMEOUT: 34, MEMORY: 35 } as const;
/**
 * One `airlock run` at a time: concurrent runs sweep each other's cgroups
 * (see 'concurrent runs' below), which would make unrelated cases flaky.
 */
const PARALLEL = 1;
/** Landlock denials reach the loader through kernel audit: the tree dies 4-7 ms later (README, known gaps). */
const LANDLOCK_GRACE_MS = 300;

let w: EscapeWorld;
const started = Date.now();

beforeAll(async () => {
  w = await EscapeWorld.create();
}, 120_000);

afterAll(async () => {
  await w?.cleanup();
  if (redone.length) console.log(`${redone.length} runs redone after another airlock run on this host swept their cgroups:\n${redone.join('\n')}`);
  console.log(`escape suite: ${ESCAPE_CASES.length} attempts + ${BUDGETS.length} budgets + ${ALLOWED.length} positive-control runs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

// ------------------------------------------------------------------ other runs on the host

/**
 * Another `airlock run` on this host (another suite, another prefix) sweeps
 * the cgroups of agents it has no record of, and so ends ours midway
 * (exit 36 CGROUP_IO, or 32/36 when it struck before the exec): the bug the
 * 'concurrent runs' tests below assert against. A run it struck tested
 * nothing, so it is redone from scratch (a fresh tree), at most twice, and
 * counted; the concurrency tests themselves never redo anything.
 */
const redone: string[] = [];
function struck(run: EscapeRun): boolean {
  const e = run.json?.error;
  if (!e) return false;
  return e.code === 'CGROUP_IO' || e.code === 'BPF_PID' || (e.code === 'ENFORCER_LAUNCH_FAILED' && /cgroup|killed by SIGKILL/.test(e.message));
}
async function unstruck<T>(what: string, attempt: () => Promise<T>, runOf: (t: T) => EscapeRun): Promise<T> {
  for (let i = 0; ; i++) {
    const result = await attempt();
    if (i === 2 || !struck(runOf(result))) return result;
    redone.push(`${what}: ${runOf(result).json.error.code} ${runOf(result).json.error.message}`);
  }
}
const once = (what: string, attempt: () => Promise<EscapeRun>) => unstruck(what, attempt, (r) => r);

// ------------------------------------------------------------------ matching

const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

/** A v4-mapped destination may be written as the IPv4 address or bracketed (never as a bare IPv6 with a port glued on). */
function sameTarget(actual: string, expected: string): boolean {
  if (actual === expected) return true;
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+\/\w+)$/.exec(expected);
  return m !== null && actual === `[::ffff:${m[1]}]:${m[2]}`;
}

function matches(e: any, exp: AuditExpectation, vars: Vars, verdict: 'deny' | 'kill'): boolean {
  return e.verdict === verdict && e.layer === exp.layer && list(exp.operation).includes(e.operation) && sameTarget(e.target, expand(exp.target, vars)) && (exp.rule === undefined || e.rule === exp.rule);
}

const show = (e: any) => `${e.verdict} ${e.layer} ${e.operation} ${e.target} (${e.rule})`;
const denials = (run: EscapeRun) => run.events.filter((e) => e.verdict !== 'allow');
const describeRun = (run: EscapeRun) =>
  `exit ${run.code} ${JSON.stringify({ endedBy: run.json.endedBy, violation: run.json.violation, error: run.json.error })}, probe said:\n${run.stderr}\ndenials:\n${denials(run).map(show).join('\n')}`;

/** Asserts the event's common fields: this agent, its policy, a process, a recent time. */
function expectOwn(run: EscapeRun, e: any): void {
  expect(e.agent).toBe(run.json.agent);
  expect(e.policy).toBe(run.json.policy.name);
  expect(typeof e.pid === 'number' && e.pid > 0, `pid ${e.pid}`).toBe(true);
  expect(Date.parse(e.time)).toBeGreaterThan(started - 60_000);
}

const want = (exp: AuditExpectation, vars: Vars, verdict: string) =>
  `${verdict} ${exp.layer} ${list(exp.operation).join('|')} ${expand(exp.target, vars)}${exp.rule ? ` (${exp.rule})` : ''}`;

function expectEvent(run: EscapeRun, c: EscapeCase, verdict: 'deny' | 'kill', found: any): void {
  expect(found, `${c.id}: no audit event "${want(c.audit, run.vars, verdict)}" among:\n${denials(run).map(show).join('\n')}`).toBeDefined();
  expectOwn(run, found);
}

/**
 * Pairs the denials of a shared run with its cases, one event to one
 * expectation, in step order (several cases may aim at the same folder).
 */
function assign(run: EscapeRun, cases: EscapeCase[]): { byCase: Map<string, any[]>; stray: any[] } {
  const free = denials(run).filter((e) => e.layer !== 'enforcer');
  const wanted = cases.filter((c) => !invisible(run, c)).flatMap((c) => [c.audit, ...(c.alsoAudits ?? [])].map((exp, k) => ({ c, exp, k })));
  const byCase = new Map<string, any[]>(cases.map((c) => [c.id, []]));
  // Expectations that name their rule first: they are the most specific.
  for (const pass of [true, false]) {
    for (const { c, exp, k } of wanted) {
      if ((exp.rule !== undefined) !== pass) continue;
      const i = free.findIndex((e) => matches(e, exp, run.vars, 'deny'));
      if (i >= 0) byCase.get(c.id)![k] = free.splice(i, 1)[0];
    }
  }
  return { byCase, stray: free };
}

/** Under the launcher's PID namespace some targets are invisible instead of denied (see the case's `pidns`). */
const invisible = (run: EscapeRun, c: EscapeCase) => run.pidns && c.pidns !== undefined;

function snapshot(c: EscapeCase, vars: Vars): Map<string, string> {
  return new Map((c.guards ?? []).map((g) => [expand(g, vars), fileState(expand(g, vars))]));
}

function expectUnchanged(before: Map<string, string>): void {
  for (const [path, state] of before) expect(fileState(path), `${path} was changed`).toBe(state);
}

// ------------------------------------------------------------------ deny

/** The deny-mode runs: one per profile for the ordinary cases, one each for the others. */
interface DenyPlan {
  cases: EscapeCase[];
  profile: Profile;
  run: Promise<{ run: EscapeRun; offsets: Map<string, number>; before: Map<string, string>; byCase: Map<string, any[]>; stray: any[] }>;
}

function denyPlans(): DenyPlan[] {
  const together = (c: EscapeCase) => !c.alone && !c.defaultWorkspace && !c.auditLogOpened;
  const batches: Array<{ profile: Profile; cases: EscapeCase[] }> = [];
  for (const profile of ['sandbox', 'development', 'production'] as const) batches.push({ profile, cases: ESCAPE_CASES.filter((c) => c.profile === profile && together(c)) });
  for (const c of ESCAPE_CASES.filter((x) => !together(x) && !x.auditLogOpened)) batches.push({ profile: c.profile, cases: [c] });
  const open = ESCAPE_CASES.filter((c) => c.auditLogOpened);
  if (open.length) batches.push({ profile: 'sandbox', cases: open });
  const runs = pool(batches, PARALLEL, ({ profile, cases }) =>
    unstruck(
      `deny ${cases.map((c) => c.id).join(' ')}`,
      async () => {
        const vars = w.tree();
        const steps: string[] = [];
        const offsets = new Map<string, number>();
        for (const c of cases) {
          steps.push(...c.steps);
          offsets.set(c.id, steps.length); // argv index of its attempt (argv[0] is the probe)
        }
        const before = new Map(cases.flatMap((c) => [...snapshot(c, vars)]));
        const first = cases[0]!;
        const run = first.auditLogOpened
          ? await w.runWithAuditLogOpen(profile, 'deny', steps, vars)
          : await w.run(profile, 'deny', steps, { vars, defaultWorkspace: first.defaultWorkspace === true });
        // runWithAuditLogOpen puts two steps first
        if (first.auditLogOpened) for (const [id, i] of offsets) offsets.set(id, i + 2);
        return { run, offsets, before, ...assign(run, cases) };
      },
      (r) => r.run,
    ),
  );
  return batches.map((b, i) => {
    runs[i]!.catch(() => undefined); // reported by the tests that await it
    return { ...b, run: runs[i]! };
  });
}

describe('on_violation: deny — the attempt fails with its errno, is audited, the agent goes on', () => {
  let plans: DenyPlan[];
  beforeAll(() => {
    plans = denyPlans();
  });
  const planOf = (c: EscapeCase) => plans.find((p) => p.cases.includes(c))!;

  it.each(ESCAPE_CASES.map((c) => [`${c.id} ${c.name}`, c] as const))('%s', async (_name, c) => {
    const { run, offsets, before, byCase } = await planOf(c).run;
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.json).toMatchObject({ endedBy: 'exit', violation: null });
    expect(run.done, describeRun(run)).toBe(true);
    const last = offsets.get(c.id)!;
    const results = c.steps.map((_, k) => run.steps.find((s) => s.index === last - c.steps.length + 1 + k)?.result);
    const setup = results.slice(0, -1);
    expect(setup, `${c.id}: set-up steps`).toEqual(setup.map(() => 'ok'));
    if (invisible(run, c)) {
      expect(results.at(-1)).toBe(c.pidns!.errno);
    } else {
      expect(list(c.errno), `${c.id}: the attempt got ${results.at(-1)}`).toContain(results.at(-1));
      const [found, ...also] = byCase.get(c.id)!;
      expectEvent(run, c, 'deny', found);
      (c.alsoAudits ?? []).forEach((exp, k) => {
        expect(also[k], `${c.id}: no audit event "${want(exp, run.vars, 'deny')}" among:\n${denials(run).map(show).join('\n')}`).toBeDefined();
      });
    }
    expect(run.events.filter((e) => e.verdict === 'kill')).toEqual([]);
    expectUnchanged(new Map([...before].filter(([p]) => (c.guards ?? []).some((g) => expand(g, run.vars) === p))));
  });

  it('every denial of these runs belongs to one of the cases (no stray denial, no other layer stepping in)', async () => {
    for (const plan of plans) {
      const { stray } = await plan.run;
      expect(stray.map(show), `run of ${plan.cases.map((c) => c.id).join(' ')}`).toEqual([]);
    }
  });
});

// ------------------------------------------------------------------ kill

/** The kill-mode steps of a case: a marker, its set-up, the attempt, (Landlock: a pause), a marker that must never print. */
function killSteps(c: EscapeCase): string[] {
  return ['mark:before', ...c.steps, ...(c.audit.layer === 'landlock' ? [`sleep:${LANDLOCK_GRACE_MS}`] : []), 'mark:after'];
}

function expectKilled(run: EscapeRun, c: EscapeCase, before: Map<string, string>): void {
  if (invisible(run, c)) {
    // Not visible, so nothing was violated: the agent goes on.
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.steps.find((s) => s.index === c.steps.length + 1)?.result).toBe(c.pidns!.errno);
    return;
  }
  expect(run.code, describeRun(run)).toBe(EXIT.VIOLATION);
  expect(run.json.endedBy).toBe('violation');
  expect(run.json.violation, describeRun(run)).toMatchObject({ layer: c.audit.layer, target: expect.any(String) });
  expect(list(c.audit.operation)).toContain(run.json.violation.operation);
  expect(sameTarget(run.json.violation.target, expand(c.audit.target, run.vars)), `violation target ${run.json.violation.target}`).toBe(true);
  expect(run.marks).toContain('before');
  expect(run.marks, `${c.id}: the agent ran on after its violation`).not.toContain('after');
  expect(run.done).toBe(false);
  const setup = run.steps.slice(0, c.steps.length - 1).map((s) => s.result);
  expect(setup).toEqual(setup.map(() => 'ok'));
  if (c.audit.layer !== 'landlock') {
    // seccomp and eBPF kill in the kernel: the attempt never returned to the agent
    expect(run.steps.length, `${c.id}: the attempt returned (${run.steps.at(-1)?.result})`).toBe(c.steps.length - 1);
  }
  expectEvent(run, c, 'kill', run.events.find((e) => matches(e, c.audit, run.vars, 'kill')));
  expect(run.events.filter((e) => e.operation === 'kill' && e.verdict === 'kill')).toHaveLength(1);
  expectUnchanged(before);
}

describe('on_violation: kill — the first violation ends the agent; nothing after it runs', () => {
  const concurrent = ESCAPE_CASES.filter((c) => !c.auditLogOpened);
  let runs: Map<string, Promise<{ run: EscapeRun; before: Map<string, string> }>>;
  beforeAll(() => {
    const all = pool(concurrent, PARALLEL, (c) =>
      unstruck(
        `kill ${c.id}`,
        async () => {
          const vars = w.tree();
          const before = snapshot(c, vars);
          return { run: await w.run(c.profile, 'kill', killSteps(c), { vars, defaultWorkspace: c.defaultWorkspace === true }), before };
        },
        (r) => r.run,
      ),
    );
    for (const p of all) p.catch(() => undefined);
    runs = new Map(concurrent.map((c, i) => [c.id, all[i]!]));
  });

  it.each(concurrent.map((c) => [`${c.id} ${c.name}`, c] as const))('%s', async (_name, c) => {
    const { run, before } = await runs.get(c.id)!;
    expectKilled(run, c, before);
  });

  it.each(ESCAPE_CASES.filter((c) => c.auditLogOpened).map((c) => [`${c.id} ${c.name}`, c] as const))('%s', async (_name, c) => {
    const run = await once(`kill ${c.id}`, () => w.runWithAuditLogOpen(c.profile, 'kill', killSteps(c)));
    expectKilled(run, c, new Map());
    expect(readFileSync(w.auditFile, 'utf8')).not.toContain('escaped');
  });

  it('Landlock kills through kernel audit, a few ms late: how far an agent gets right after its violation (known gap, reported)', async () => {
    const run = await once('landlock gap', () => w.run('sandbox', 'kill', ['read:{out}/direct', ...Array.from({ length: 200 }, (_, i) => `mark:${i}`), `sleep:${LANDLOCK_GRACE_MS}`, 'mark:after']));
    expect(run.code).toBe(EXIT.VIOLATION);
    expect(run.marks).not.toContain('after');
    console.log(`Landlock kill: ${run.marks.length} of 200 markers printed after the denied read before the tree died (kill latency ${run.json.violation?.kill?.latencyMs?.toFixed?.(2)} ms)`);
  });
});

// ------------------------------------------------------------------ allowed

describe('the same policies let the allowed actions through (positive controls, under kill)', () => {
  it.each(ALLOWED.map((a) => [a.name, a] as const))('%s', async (_name, a) => {
    const run = await once(a.name, () => w.run(a.profile, 'kill', a.steps));
    expect(run.steps.map((s) => `${s.op} ${s.result}`), describeRun(run)).toEqual(a.steps.map((s) => `${s.split(':')[0]} ok`));
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.done).toBe(true);
    expect(denials(run).filter((e) => e.layer !== 'enforcer').map(show)).toEqual([]);
    expect(run.json).toMatchObject({ endedBy: 'exit', violation: null });
  });
});

// ------------------------------------------------------------------ budgets

describe('budgets', () => {
  const [bomb, hog, timeout] = BUDGETS;

  it(`${bomb.id} ${bomb.name}`, async () => {
    const run = await once(bomb.id, () => w.run(bomb.profile, 'kill', ['forkbomb:1500', 'mark:after'], { execution: { max_processes: bomb.maxProcesses } }));
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.steps).toEqual([expect.objectContaining({ op: 'forkbomb', result: 'EAGAIN' })]);
    const counts = /forkbomb forked=(\d+) failed=(\d+)/.exec(run.other.join('\n'));
    expect(Number(counts?.[1])).toBeGreaterThan(0); // it did fork (positive control) ...
    expect(Number(counts?.[2])).toBeGreaterThan(0); // ... until the kernel said no
    expect(run.marks).toEqual(['after']);
    expect(run.json.usage.pidsPeak).toBeLessThanOrEqual(bomb.maxProcesses);
    expect(run.json.usage.pidsPeak).toBeGreaterThan(bomb.maxProcesses / 2);
    expect(run.json.usage.forkFailures).toBeGreaterThan(0);
    expect(run.events.filter((e) => e.operation === 'spawn' && e.layer === 'cgroup' && e.verdict === 'deny' && e.rule === `execution.max_processes: ${bomb.maxProcesses}`)).toHaveLength(1);
  });

  it(`${hog.id} ${hog.name}`, async () => {
    const run = await once(hog.id, () => w.run(hog.profile, 'kill', ['alloc:16', 'mark:below', 'alloc:400', 'mark:after'], { execution: { max_memory_mb: hog.maxMemoryMb } }));
    expect(run.code, describeRun(run)).toBe(EXIT.MEMORY);
    expect(run.json).toMatchObject({ endedBy: 'memory', signal: 'SIGKILL', usage: { maxMemoryBytes: hog.maxMemoryMb * 2 ** 20 } });
    expect(run.marks).toEqual(['below']); // under the budget it worked
    expect(run.json.usage.oomKills).toBeGreaterThanOrEqual(1);
    expect(run.json.usage.memoryPeakBytes).toBeLessThanOrEqual(hog.maxMemoryMb * 2 ** 20);
    expect(run.events.filter((e) => e.operation === 'memory' && e.layer === 'cgroup' && e.verdict === 'kill')).toHaveLength(1);
  });

  it(`${timeout.id} ${timeout.name}`, async () => {
    const token = `token-${process.pid}-${Date.now()}`;
    let alive: number[] = [];
    const t0 = Date.now();
    const run = await once(timeout.id, () =>
      w.run(timeout.profile, 'kill', ['daemons:3,60', `mark:${token}`, 'sleep:60000', 'mark:after'], {
        execution: { timeout_minutes: timeout.timeoutMinutes },
        onLine: (line) => {
          if (line === `mark ${token}`) alive = w.processesWith(token);
        },
      }),
    );
    expect(run.code, describeRun(run)).toBe(EXIT.TIMEOUT);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(run.json).toMatchObject({ endedBy: 'timeout', signal: 'SIGKILL' });
    expect(alive.length, 'the probe and its three daemons were running').toBe(4);
    expect(run.marks).toEqual([token]);
    await waitFor('the daemons to be gone', () => w.processesWith(token).length === 0, 3000);
    expect(run.events.filter((e) => e.operation === 'timeout')).toEqual([expect.objectContaining({ verdict: 'kill', layer: 'cgroup', rule: 'execution.timeout_minutes (1 s)' })]);
  });
});

// ------------------------------------------------------------------ the host

describe('a process outside any agent is never denied, while agents run', () => {
  const hosted = ESCAPE_CASES.filter((c) => c.host !== null);

  /** Starts the agent, makes every attempt on the host while it runs, then lets it end. */
  async function whileAgentRuns(profile: Profile): Promise<{ run: EscapeRun; failures: string[]; during: any[] }> {
    const vars = w.tree();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const agent = w.run(profile, 'kill', ['mark:ready', `wait:${vars.ws}/stop`], { vars, onLine: (l) => l === 'mark ready' && ready() });
    const early = await Promise.race([isReady.then(() => undefined), agent]);
    if (early) return { run: early, failures: ['the agent ended before the attempts'], during: [] };
    const seen = w.events().length;
    const failures: string[] = [];
    try {
      for (const c of hosted) {
        const host = c.host!;
        const steps = host.steps ?? c.steps;
        const hv = { ...w.tree(), outsider: String((await w.spawnOutsider()).pid) };
        const out = w.host(steps, host.as, hv);
        const got = steps.map((_, k) => out.steps.find((s) => s.index === k + 1)?.result);
        const want = [...steps.slice(0, -1).map(() => ['ok']), host.expect];
        if (!got.every((r, k) => r !== undefined && want[k]!.includes(r))) failures.push(`${c.id} ${c.name} as ${host.as}: ${got.join(' ')} (want ${want.map((x) => x.join('|')).join(' ')})`);
      }
    } finally {
      writeFileSync(join(vars.ws!, 'stop'), '');
    }
    const run = await agent;
    return { run, failures, during: w.events().slice(seen) };
  }

  it.each(['production', 'development'] as const)('the same attempts on the host succeed while a %s agent runs, and nothing of theirs is audited', async (profile) => {
    const { run, failures, during } = await unstruck(`host, ${profile}`, () => whileAgentRuns(profile), (r) => r.run);
    expect(run.code, describeRun(run)).toBe(0);
    expect(failures).toEqual([]);
    expect(during.filter((e) => e.verdict !== 'allow').map(show)).toEqual([]);
    expect([...new Set(during.map((e) => e.agent))].filter((a) => a !== run.json.agent)).toEqual([]);
    console.log(`host attempts: ${hosted.length} while a ${profile} agent ran`);
  });
});

// ------------------------------------------------------------------ another agent's files

describe("another agent's workspace", () => {
  it.each(['deny', 'kill'] as const)(
    "chmod, utimes, setxattr and chown of a file of another agent running at the same time are refused and audited (%s); the file is that agent's own uid's, and nobody's again after",
    async (mode) => {
      const owner = w.tree();
      const file = join(owner.ws!, 'in.txt');
      let ready!: () => void;
      const isReady = new Promise<void>((r) => (ready = r));
      const first = w.run('sandbox', 'deny', ['mark:ready', `wait:${owner.ws}/stop`], { vars: owner, onLine: (l) => l === 'mark ready' && ready() });
      await Promise.race([isReady, first.then((r) => Promise.reject(new Error(`the first agent ended early: ${describeRun(r)}`)))]);
      let other: EscapeRun;
      const before = fileState(file);
      const uid = statSync(file).uid;
      try {
        expect(uid, 'the first agent owns its workspace while it runs').toBeGreaterThanOrEqual(2_000_000_000);
        const attempts = [`chmod:${file},777`, `utimes:${file}`, `setxattr:${file}`, `chown:${file},${uid}`];
        other = await once(`the other agent (${mode})`, () => w.run('sandbox', mode, ['mark:before', ...attempts, 'mark:after']));
      } finally {
        writeFileSync(join(owner.ws!, 'stop'), '');
      }
      expect(fileState(file), 'the first agent’s file').toBe(before);
      const seccomp = (verdict: string) => other.events.filter((e) => e.layer === 'seccomp' && e.verdict === verdict && e.target === file).map((e) => e.operation);
      if (mode === 'deny') {
        expect(other.code, describeRun(other)).toBe(0);
        expect(other.steps.map((s) => `${s.op} ${s.result}`)).toEqual(['chmod EPERM', 'utimes EPERM', 'setxattr EPERM', 'chown EPERM']);
        expect(seccomp('deny')).toEqual(['chmod', 'utimes', 'setxattr', 'chown']);
      } else {
        expect(other.code, describeRun(other)).toBe(EXIT.VIOLATION);
        expect(other.json.violation).toMatchObject({ layer: 'seccomp', operation: 'chmod', target: file });
        expect(other.marks).toEqual(['before']);
        expect(other.steps).toEqual([]);
        expect(seccomp('kill')).toEqual(['chmod']);
        expect(other.events.filter((e) => e.operation === 'kill' && e.verdict === 'kill')).toHaveLength(1);
      }
      const run = await first;
      expect(run.code, describeRun(run)).toBe(0);
      expect(`${statSync(file).uid}:${statSync(file).gid}`).toBe(`${NOBODY}:${NOBODY}`);
    },
  );
});

// ------------------------------------------------------------------ the enforcer itself

describe('the enforcer is out of reach', () => {
  it('signals and ptrace against pid 1 (its init, or the host\'s), the BPF broker and its loader fail, and they live on', async () => {
    // right after the runs above the broker lingers (3 s): aim at it
    const enforcer = brokerProcesses().map((p) => p.pid);
    expect(enforcer.length, 'the broker and its loader are running').toBeGreaterThanOrEqual(2);
    const targets = ['1', ...enforcer.map(String)];
    const run = await once('the enforcer', () => w.run('development', 'deny', [...targets.map((t) => `kill:${t}`), 'ptrace:1', 'vm-readv:1']));
    expect(run.code, describeRun(run)).toBe(0);
    for (const step of run.steps.slice(0, targets.length)) expect(['EPERM', 'ESRCH'], `kill ${step.index}`).toContain(step.result);
    expect(run.steps.slice(targets.length).map((s) => s.result)).toEqual(['EPERM', 'EPERM']);
    expect(run.events.filter((e) => e.layer === 'seccomp' && e.verdict === 'deny').map((e) => e.target)).toEqual(['ptrace', 'process_vm_readv']);
    const alive = new Set(brokerProcesses().map((p) => p.pid));
    expect(enforcer.filter((p) => !alive.has(p))).toEqual([]);
  });
});

// ------------------------------------------------------------------ concurrency

describe('concurrent runs', () => {
  it("an airlock run under another prefix leaves this prefix's running agent alone", async () => {
    const vars = w.tree();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const agent = w.run('sandbox', 'deny', ['mark:ready', `wait:${vars.ws}/stop`, 'mark:stopped'], { vars, onLine: (l) => l === 'mark ready' && ready() });
    await Promise.race([isReady, agent.then((r) => Promise.reject(new Error(`the agent ended early: ${describeRun(r)}`)))]);
    const other = await w.run('sandbox', 'deny', ['mark:other'], { prefix: join(w.root, 'other-prefix') });
    writeFileSync(join(vars.ws!, 'stop'), '');
    const run = await agent;
    expect(other.code, describeRun(other)).toBe(0);
    expect(run.code, `the first agent: ${describeRun(run)}`).toBe(0);
    expect(run.marks).toEqual(['ready', 'stopped']);
  });

  it("agents started at the same moment all run: no run's sweep takes another's cgroups for a crashed run's leftovers", async () => {
    const failed: string[] = [];
    for (let round = 0; round < 3; round++) {
      const runs = await Promise.all(Array.from({ length: 8 }, () => w.run('sandbox', 'deny', ['mark:ran'])));
      for (const r of runs) if (r.code !== 0 || !r.marks.includes('ran')) failed.push(`exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
    expect(failed).toEqual([]);
  });
});

// ------------------------------------------------------------------ afterwards

describe('afterwards', () => {
  it('leaves no agent cgroup, record, probe process or default workspace; the broker goes idle and exits', async () => {
    await waitFor('every probe to be gone', () => w.processesWith(w.root).length === 0, 5000);
    expect(w.agents.length).toBeGreaterThan(ESCAPE_CASES.length);
    const ours = new Set(w.agents);
    expect(agentCgroups().filter((dir) => ours.has(dir.split('/').at(-1)!))).toEqual([]);
    const records = join(w.prefix, 'run', 'agents');
    expect(existsSync(records) ? readdirSync(records) : []).toEqual([]);
    const workspaces = join(w.prefix, 'var', 'workspaces');
    expect(existsSync(workspaces) ? readdirSync(workspaces) : []).toEqual([]);
    // The broker serves every airlock run of the host: it idles out only when no one else's run is alive.
    const others = () => processes().filter((p) => p.cmdline.includes('bin/run.js run'));
    await waitFor('the broker to exit', () => brokerProcesses().length === 0 || others().length > 0, 15_000);
    if (others().length > 0) console.log('the broker is kept by other airlock runs on this host: its exit was not checked');
  });
});
