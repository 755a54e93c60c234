/** `--policy NAME|FILE` and the folder of named policies (the policy repository's checkout). */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy, loadPolicyFile, loadPolicyFolder, resolvePolicy } from '../../services/enforcer/policy/index.js';

const FIXTURES = 'test/fixtures/policies';
const REPO = join(FIXTURES, 'repo');
const opts = { workspace: '/srv/agent' };
const temps: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'airlock-policy-'));
  temps.push(d);
  return d;
};
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('loadPolicy', () => {
  it('a profile name is the built-in profile', async () => {
    const p = await loadPolicy('sandbox', opts);
    expect(p).toMatchObject({ name: 'sandbox', source: 'builtin:sandbox', extends: 'sandbox' });
  });

  it('a path is that file, named after its stem', async () => {
    const p = await loadPolicy(join(FIXTURES, 'seed.yaml'));
    expect(p).toMatchObject({ name: 'seed', source: join(FIXTURES, 'seed.yaml') });
    expect(p.extends).toBeUndefined();
    expect((await loadPolicy('./test/fixtures/policies/seed.yaml')).name).toBe('seed');
  });

  it('another name is looked up in the policy folder (.yaml or .yml)', async () => {
    expect(await loadPolicy('research', { ...opts, policyDir: REPO })).toMatchObject({ name: 'research', extends: 'production', source: join(REPO, 'research.yaml') });
    expect(await loadPolicy('builder', { ...opts, policyDir: REPO })).toMatchObject({ name: 'builder', source: join(REPO, 'builder.yml') });
  });

  it('what cannot be found is POLICY_NOT_FOUND with a hint', async () => {
    await expect(loadPolicy('nope', { policyDir: REPO })).rejects.toMatchObject({ code: 'POLICY_NOT_FOUND', message: expect.stringContaining('no policy named "nope"'), hint: expect.stringContaining('built-in profile') });
    await expect(loadPolicy('nope')).rejects.toMatchObject({ code: 'POLICY_NOT_FOUND' });
    await expect(loadPolicy('missing.yaml')).rejects.toMatchObject({ code: 'POLICY_NOT_FOUND', message: expect.stringContaining('does not exist') });
    await expect(loadPolicy('two words')).rejects.toMatchObject({ code: 'POLICY_NOT_FOUND' });
  });

  it('a file that is not UTF-8 is POLICY_INVALID', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.yaml'), Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]));
    await expect(loadPolicyFile(join(dir, 'bad.yaml'))).rejects.toMatchObject({ code: 'POLICY_INVALID', message: `${join(dir, 'bad.yaml')}:1:1 the policy is not UTF-8 text` });
  });

  it('hashes the bytes of the file as they are (a BOM included)', async () => {
    const dir = tempDir();
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('agent_policy:\n  extends: sandbox\n')]);
    writeFileSync(join(dir, 'bom.yaml'), bytes);
    const p = await loadPolicyFile(join(dir, 'bom.yaml'), opts);
    expect(p.sourceSha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('the seed example loads and compiles as written', async () => {
    const prepared = await loadPolicy(join(FIXTURES, 'seed.yaml'));
    const { policy } = await resolvePolicy(prepared, { resolve: async () => ({ addresses: ['10.20.30.40'] }) });
    expect(policy.network.allow).toEqual([{ address: '10.20.30.40', prefix: 32, family: 4, ports: [], protocol: 'any', source: 'api.internal.company.com' }]);
    expect(policy.execution).toEqual({ spawn: true, exec: true, maxProcesses: 10, maxMemoryBytes: 4096 * 1024 * 1024, timeoutSeconds: 7200 });
  });
});

describe('loadPolicyFolder', () => {
  it('loads the good policies and reports each bad file with its position', async () => {
    const { policies, errors } = await loadPolicyFolder(REPO, opts);
    expect([...policies.keys()]).toEqual(['builder', 'research']);
    expect(errors.map((e) => e.message)).toEqual([
      `${join(REPO, 'broken.yaml')}:4:20 agent_policy.execution.max_processes: must be a positive integer`,
      `${join(REPO, 'renamed.yaml')}:2:9 agent_policy.name: says "something-else" but the file names the policy "renamed": make them agree`,
      `${join(REPO, 'sandbox.yaml')}:1:1 "sandbox" is a built-in profile: name the policy differently and extend sandbox`,
    ]);
    for (const e of errors) expect(e).toMatchObject({ code: 'POLICY_INVALID' });
  });

  it('refuses two files that give the same name', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.yaml'), 'agent_policy:\n  extends: sandbox\n');
    writeFileSync(join(dir, 'a.yml'), 'agent_policy:\n  extends: sandbox\n');
    const { policies, errors } = await loadPolicyFolder(dir, opts);
    expect([...policies.keys()]).toEqual(['a']);
    expect(errors.map((e) => e.message)).toEqual([`${join(dir, 'a.yml')}:1:1 a policy named "a" is already defined by another file`]);
  });

  it('a missing folder is POLICY_NOT_FOUND', async () => {
    await expect(loadPolicyFolder(join(REPO, 'nowhere'))).rejects.toMatchObject({ code: 'POLICY_NOT_FOUND' });
  });
});
