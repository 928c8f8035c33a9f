/**
 * lib/PRODUCTION.md against the code: every Hyperion config block it shows (`cache:`, `tracing:`,
 * `metrics:`) passes the config schema, which rejects unknown fields, so no option it names is
 * misspelt or gone. (Its ACL lines are checked against `aclRules()` in spec/cache/redis/acl.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';

it('every config block of lib/PRODUCTION.md is a valid config', () => {
  const doc = readFileSync(new URL('../../lib/PRODUCTION.md', import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((text) => /^(cache|tracing|metrics):/m.test(text));
  assert.ok(blocks.length >= 3, `found ${blocks.length} config blocks`);
  for (const text of blocks) {
    assert.doesNotThrow(() => loadConfigFromText(text, { source: 'lib/PRODUCTION.md' }), text);
  }
});
