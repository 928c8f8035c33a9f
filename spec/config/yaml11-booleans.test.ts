/**
 * `enabled: yes`, `register_global: off`: YAML 1.1's booleans are text in YAML 1.2. A true/false
 * field refused them with "has the wrong type (expected true or false, received text)" alone,
 * which left the reader looking at what reads as a yes or a no; what was received now says why,
 * in a file and from an environment variable. Other text (`maybe`) gets no such note.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const NOTE = 'received text: yes, no, on and off are text, not booleans (YAML 1.2 has only true and false))';
let dir: string | undefined;
after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

/** The one issue line of the ConfigError loading `text` gives. */
async function issueLine(text: string, env: Record<string, string> = {}): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'hyperion-yaml11-bool-'));
  const path = join(dir, 'app.yaml');
  await writeFile(path, text);
  const err = await loadConfig(path, { env }).then(
    (c) => new Error(`loaded: ${JSON.stringify(c)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  const lines = err.message.split('\n').slice(1);
  assert.equal(lines.length, 1, err.message);
  return lines[0]!;
}

describe('YAML 1.1 booleans in a true/false field', () => {
  for (const [text, path] of [
    ['tracing: {enabled: yes}\n', 'tracing.enabled'],
    ['tracing: {exporter: none, register_global: Off}\n', 'tracing.register_global'],
    ['cache: {type: redis, tls: {reject_unauthorized: NO}}\n', 'cache.tls.reject_unauthorized'],
  ] as const) {
    it(text.trim(), async () => {
      assert.equal(await issueLine(text), `  - ${path}: has the wrong type (expected true or false, ${NOTE}`);
    });
  }

  it('from an environment variable', async () => {
    assert.equal(
      await issueLine('tracing: {exporter: none}\n', { HYPERION__TRACING__ENABLED: 'on' }),
      `  - tracing.enabled: has the wrong type (set by environment variable HYPERION__TRACING__ENABLED) (expected true or false, ${NOTE}`,
    );
  });

  it('other text gets no such note', async () => {
    assert.equal(
      await issueLine('tracing: {enabled: maybe}\n'),
      '  - tracing.enabled: has the wrong type (expected true or false, received text)',
    );
  });
});
