/**
 * The launcher's --probe runs once per launcher binary, boot and
 * vm.mmap_min_addr, not once per agent: a stand-in launcher counts how often
 * it is asked.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeLaunchLayers } from '../../services/enforcer/layers.js';

const dir = mkdtempSync(join(tmpdir(), 'airlock-probe-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function standIn(abi: number): string {
  const file = join(dir, `launcher-${abi}`);
  writeFileSync(file, `#!/bin/sh\necho x >> ${dir}/asked-${abi}\necho '{"landlock":{"abi":${abi}},"seccomp":{"available":true},"mmapMinAddr":4096}'\n`);
  chmodSync(file, 0o755);
  return file;
}
const asked = (abi: number) => readFileSync(join(dir, `asked-${abi}`), 'utf8').split('\n').filter(Boolean).length;

describe('the launcher probe cache', () => {
  it('asks a launcher once, again when it changes, and keeps launchers apart', async () => {
    const cache = join(dir, 'cache', 'probe.json');
    const seven = standIn(7);
    expect((await probeLaunchLayers(seven, cache)).landlock.abi).toBe(7);
    expect((await probeLaunchLayers(seven, cache)).landlock.abi).toBe(7);
    expect(asked(7)).toBe(1);
    // another launcher (the test-only one reporting ABI 5) is probed, not answered from the cache
    const five = standIn(5);
    expect((await probeLaunchLayers(five, cache)).landlock.abi).toBe(5);
    expect(asked(5)).toBe(1);
    expect((await probeLaunchLayers(seven, cache)).landlock.abi).toBe(7);
    expect(asked(7)).toBe(2);
    // a rebuilt launcher (new mtime) is probed again
    utimesSync(seven, new Date(), new Date(Date.now() + 5000));
    await probeLaunchLayers(seven, cache);
    await probeLaunchLayers(seven, cache);
    expect(asked(7)).toBe(3);
  });

  it('a launcher that is not there says so, as the probe does', async () => {
    await expect(probeLaunchLayers(join(dir, 'missing'), join(dir, 'cache', 'probe.json'))).rejects.toMatchObject({ code: 'ENFORCER_LAUNCHER_NOT_FOUND' });
  });
});
