/**
 * `aclRules` / `sentinelAclRules` from the package entry (`hyperion/cache/redis`, lib/cache/redis/
 * index.ts), and the checks of the scope: no server needed (acl.test.ts runs the adapter under the
 * rules on a real Redis).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type AclScope, aclRules, sentinelAclRules } from '../../../lib/cache/redis/index.js';
import { ConfigError } from '../../../lib/core/errors.js';

/** The paths of the ConfigError `aclRules(scope)` throws. */
function refused(scope: unknown): { paths: string[]; message: string } {
  try {
    aclRules(scope as AclScope);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return { paths: e.issues.map((i) => i.path), message: e.message };
  }
  assert.fail(`accepted ${JSON.stringify(scope)}`);
}

describe('aclRules from hyperion/cache/redis', () => {
  it('is exported with sentinelAclRules, and prints an ACL SETUSER line', () => {
    const rules = aclRules({ keyPrefix: 'app:', mode: 'standalone' });
    assert.deepEqual(rules.slice(0, 3), ['resetkeys', 'resetchannels', '-@all']);
    assert.ok(rules.includes('~app:*'));
    assert.ok(sentinelAclRules().includes('+sentinel|get-master-addr-by-name'));
  });

  it('requires a non-empty keyPrefix (an empty one would be ~*: every key)', () => {
    for (const keyPrefix of [undefined, '', 42, null])
      assert.deepEqual(refused({ keyPrefix, mode: 'standalone' }).paths, ['keyPrefix'], String(keyPrefix));
    assert.deepEqual(refused({ mode: 'standalone', leasePrefix: '' } as never).paths, [
      'keyPrefix',
      'leasePrefix',
    ]);
  });

  it('refuses patterns an ACL line cannot hold (whitespace, newline: another directive)', () => {
    const r = refused({ keyPrefix: 'app:\nuser evil on nopass ~* +@all', mode: 'standalone' });
    assert.deepEqual(r.paths, ['keyPrefix']);
    assert.doesNotMatch(r.message, /evil/, 'the value is not echoed');
    assert.deepEqual(refused({ keyPrefix: 'a b:', mode: 'standalone' }).paths, ['keyPrefix']);
    assert.deepEqual(refused({ keyPrefix: 'a:', mode: 'standalone', busChannel: 'x\ty' }).paths, [
      'busChannel',
    ]);
  });

  it('refuses a mode that is not a RedisMode, naming the nearest', () => {
    const r = refused({ keyPrefix: 'app:', mode: 'Cluster' });
    assert.deepEqual(r.paths, ['mode']);
    assert.match(r.message, /mode: is not a known mode; did you mean `cluster`\?/);
    assert.deepEqual(refused({ keyPrefix: 'app:' }).paths, ['mode']);
  });

  it('refuses a db that is not a non-negative integer, and a non-zero db in cluster mode', () => {
    for (const db of [-1, 1.5, Number.NaN, '1', 2 ** 31])
      assert.deepEqual(refused({ keyPrefix: 'app:', mode: 'standalone', db }).paths, ['db'], String(db));
    assert.match(
      refused({ keyPrefix: 'app:', mode: 'cluster', db: 1 }).message,
      /Redis Cluster has only db 0/,
    );
    assert.ok(aclRules({ keyPrefix: 'app:', mode: 'sentinel', db: 3 }).includes('+select'));
    assert.ok(!aclRules({ keyPrefix: 'app:', mode: 'standalone', db: 0 }).includes('+select'));
  });

  it('refuses unknown keys with the nearest known one, and wrong flag types, all at once', () => {
    const r = refused({
      keyPrefix: 'app:',
      mode: 'standalone',
      keyprefix: 'x',
      tracking: 'yes',
      busChanel: 'c',
    });
    assert.deepEqual(r.paths, ['keyprefix', 'busChanel', 'tracking']);
    assert.match(r.message, /keyprefix: is not a known option; did you mean `keyPrefix`\?/);
    assert.match(r.message, /busChanel: is not a known option; did you mean `busChannel`\?/);
    assert.deepEqual(refused(undefined).paths, ['']);
  });

  it('every rule of every valid scope is one space-free word, its prefix glob-escaped', () => {
    const pattern = fc.string({ minLength: 1 }).filter((s) => !/[\s\p{Cc}]/u.test(s));
    const scope = fc.record(
      {
        keyPrefix: pattern,
        mode: fc.constantFrom('standalone' as const, 'cluster' as const, 'sentinel' as const),
        busChannel: pattern,
        leasePrefix: pattern,
        transactions: fc.boolean(),
        tracking: fc.boolean(),
      },
      { requiredKeys: ['keyPrefix', 'mode'] },
    );
    fc.assert(
      fc.property(scope, (s) => {
        const rules = aclRules(s);
        assert.deepEqual(rules.join(' ').split(' '), rules);
        const escaped = s.keyPrefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
        assert.ok(rules.includes(`~${escaped}*`), rules.join(' '));
      }),
    );
  });
});
