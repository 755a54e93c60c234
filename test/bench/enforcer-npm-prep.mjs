// Prepares the npm workload of test/bench/enforcer.sh, offline: every
// package this repo has installed (node_modules, nested ones too) is packed
// into a tarball in OUT/tarballs, and OUT/project holds the repo's
// package.json and a package-lock.json whose entries point at those tarballs
// (file: URLs, their own integrity). `npm ci --offline` of OUT/project then
// installs the whole tree without any registry.
//   node test/bench/enforcer-npm-prep.mjs REPO OUT
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const [repo, out] = process.argv.slice(2).map((p) => resolve(p));
if (!repo || !out) throw new Error('usage: enforcer-npm-prep.mjs REPO OUT');
const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
const tarballs = join(out, 'tarballs');
const project = join(out, 'project');
mkdirSync(tarballs, { recursive: true });
mkdirSync(project, { recursive: true });

let packed = 0;
let skipped = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  if (!key.startsWith('node_modules/')) continue;
  const folder = join(repo, key);
  if (!existsSync(join(folder, 'package.json'))) {
    // not installed here (another platform's optional package): npm skips it by its os/cpu fields
    skipped++;
    continue;
  }
  const file = join(tarballs, `${key.replace(/[^a-zA-Z0-9.-]+/g, '_')}-${entry.version}.tgz`);
  execFileSync('tar', ['-czf', file, '--exclude=./node_modules', '--transform', 's,^\\.,package,', '-C', folder, '.']);
  entry.resolved = `file:${file}`;
  entry.integrity = `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
  packed++;
}
delete lock.packages[''].bin;
writeFileSync(join(project, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true, dependencies: pkg.dependencies, devDependencies: pkg.devDependencies }, null, 2)}\n`);
console.log(`packed ${packed} packages (${skipped} not installed here, skipped)`);
