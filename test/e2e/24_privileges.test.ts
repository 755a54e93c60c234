/**
 * The lifecycle commands change the host and need root: run by `nobody`
 * (the real binary under setpriv) each fails with INSTALL_NEEDS_ROOT and a
 * clear message, and changes nothing. status and doctor work without root.
 */
import { access, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airlock, ApplianceFixture, freePort, snapshot } from '../helpers/appliance.js';

const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
// oclif looks for user plugins under $HOME; nobody's must not be root's.
const NOBODY_ENV = { HOME: '/nonexistent' };

let fx: ApplianceFixture;
let prefix: string;
let bundle: string;

beforeAll(async () => {
  fx = await ApplianceFixture.create('root');
  prefix = fx.prefix;
  // mkdtemp makes the work folder 0700; nobody must be able to reach the bundle and the prefix.
  await chmod(fx.work, 0o755);
  const port = await freePort();
  bundle = await fx.bundle({ version: '1.0.0', sequence: 1, services: [{ name: 'health', kind: 'ok', port }] });
  const upgrade = await fx.bundle({ version: '1.1.0', sequence: 2, services: [{ name: 'health', kind: 'ok', port }] });
  expect((await airlock(['install', bundle, '--trust', fx.trustRoot, '--prefix', prefix])).code).toBe(0);
  expect((await airlock(['upgrade', upgrade, '--prefix', prefix])).code).toBe(0);
});

afterAll(async () => {
  await fx.cleanup();
});

describe('as nobody', () => {
  it.each([
    ['install', () => ['install', bundle, '--trust', fx.trustRoot, '--prefix', join(fx.work, 'fresh')]],
    ['upgrade', () => ['upgrade', bundle, '--prefix', prefix]],
    ['rollback', () => ['rollback', '--prefix', prefix]],
    ['uninstall', () => ['uninstall', '--purge', '--prefix', prefix]],
    ['up', () => ['up', '--prefix', prefix]],
    ['up', () => ['up', '--foreground', '--prefix', prefix]],
    ['down', () => ['down', '--prefix', prefix]],
  ])('%s fails with INSTALL_NEEDS_ROOT (exit 23) and changes nothing', async (command, args) => {
    const before = await snapshot(prefix);
    const json = await airlock([...args(), '--json'], NOBODY_ENV, AS_NOBODY);
    expect(json.code, json.stdout + json.stderr).toBe(23);
    expect(json.json.error).toMatchObject({ code: 'INSTALL_NEEDS_ROOT', details: { uid: 65534 } });
    expect(json.json.error.message).toBe(`\`airlock ${command}\` must run as root (running as uid 65534)`);
    expect(json.json.error.hint).toMatch(/sudo airlock/);

    const human = await airlock(args(), NOBODY_ENV, AS_NOBODY);
    expect(human.code).toBe(23);
    expect(human.stderr).toContain(`airlock: error INSTALL_NEEDS_ROOT: \`airlock ${command}\` must run as root`);
    expect(human.stderr).toContain('hint: Run it as root');

    expect(await snapshot(prefix)).toEqual(before);
    expect(await access(join(fx.work, 'fresh')).then(() => true, () => false)).toBe(false);
  });

  it('status works without root', async () => {
    const run = await airlock(['status', '--prefix', prefix, '--json'], NOBODY_ENV, AS_NOBODY);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json).toMatchObject({ current: { version: '1.1.0' }, previous: { version: '1.0.0' }, healthy: true });
  });

  it('doctor works without root and says it is not root', async () => {
    const run = await airlock(['doctor', '--prefix', prefix, '--json'], NOBODY_ENV, AS_NOBODY);
    expect([0, 25]).toContain(run.code);
    expect(run.json.checks).toContainEqual(expect.objectContaining({ id: 'privileges.root', status: 'warn' }));
  });
});
