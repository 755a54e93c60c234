/**
 * The built-in profiles run without the YAML parser and the schema check:
 * their documents are precompiled (PROFILE_DOCS). They must be exactly what
 * parsing the shipped sources gives, and errors in a built-in layer must
 * still point into its source.
 */
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../services/enforcer/policy/parse.js';
import { PROFILE_DOCS } from '../../services/enforcer/policy/profiles.js';
import { PROFILE_NAMES, PROFILE_SOURCES, prepareProfile } from '../../services/enforcer/policy/index.js';

describe('precompiled profiles', () => {
  it('each document is what parsing and checking its source gives', () => {
    for (const name of ['base', ...PROFILE_NAMES] as const) {
      expect(PROFILE_DOCS[name], `${name}: update PROFILE_DOCS in services/enforcer/policy/profiles.ts`).toEqual(parsePolicy(PROFILE_SOURCES[name], `builtin:${name}`).doc);
    }
  });

  it('a problem in a built-in layer is located in its source', () => {
    const line = PROFILE_SOURCES.base.split('\n').findIndex((l) => l.trim() === '- /usr') + 1;
    expect(line).toBeGreaterThan(0);
    let thrown: any;
    try {
      prepareProfile('sandbox', { workspace: '/srv/ws', protectedPaths: ['/usr/share/airlock'] });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ code: 'POLICY_INVALID' });
    expect(thrown.details.issues).toContainEqual(expect.objectContaining({ file: 'builtin:base', line, path: 'agent_policy.filesystem.read[0]' }));
  });
});
