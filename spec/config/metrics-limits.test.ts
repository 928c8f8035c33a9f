/**
 * The `metrics:` section holds the limits createMetrics holds (names of at most 1,024 characters,
 * built-in names included after their prefix; at most 30 default labels; label values of at most
 * 2,048 bytes). The file took more, and createAppFromConfig then failed with a MetricsError — not
 * a ConfigError, and after the tracer had been built. Found by fuzzing the loader from outside.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAppFromConfig, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const TIERED = {
  type: 'tiered',
  l1: { type: 'memory', max_cost: 1000 },
  l2: { type: 'memory', max_cost: 1000 },
};

/** Refused as a ConfigError with one issue at `path`, whose text never holds `hidden`. */
function refused(config: Record<string, unknown>, path: string, hidden?: string) {
  assert.throws(
    () => parseConfig(config),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.deepEqual(
        err.issues.map((i) => i.path),
        [path],
      );
      if (hidden) assert.ok(!JSON.stringify(err.issues).includes(hidden) && !err.message.includes(hidden));
      return true;
    },
  );
}

/** Loads and builds (nothing listens: no port). */
async function builds(config: Record<string, unknown>) {
  const app = await createAppFromConfig(parseConfig(config));
  await app.close();
}

describe('config metrics: the limits createMetrics holds', () => {
  it('namespace, subsystem and prefix of more than 1,024 characters are refused at load', () => {
    for (const key of ['namespace', 'subsystem', 'prefix'])
      refused({ metrics: { [key]: 'a'.repeat(1025) } }, `metrics.${key}`, 'a'.repeat(100));
  });

  it('a prefix leaving the built-in metric names over 1,024 characters is refused; one character less builds', async () => {
    refused({ metrics: { namespace: 'a'.repeat(988) } }, 'metrics.namespace');
    refused({ metrics: { namespace: 'a'.repeat(500), subsystem: 'b'.repeat(487) } }, 'metrics.namespace');
    refused({ metrics: { prefix: 'p'.repeat(988) } }, 'metrics.prefix');
    await builds({ metrics: { namespace: 'a'.repeat(987) } });
    await builds({ metrics: { namespace: 'a'.repeat(500), subsystem: 'b'.repeat(486) } });
    await builds({ metrics: { prefix: 'p'.repeat(987) } });
    // `prefix` renames the built-in metrics only: a long namespace is fine without a tiered cache…
    await builds({ metrics: { namespace: 'a'.repeat(1000), prefix: '' } });
    // …whose metrics are named under the namespace.
    refused({ metrics: { namespace: 'a'.repeat(1000), prefix: '' }, cache: TIERED }, 'metrics.namespace');
    await builds({ metrics: { namespace: 'a'.repeat(987), prefix: 'x' }, cache: TIERED });
    // Nothing is registered when disabled.
    await builds({ metrics: { enabled: false, namespace: 'a'.repeat(1000) } });
  });

  it('default labels: at most 30, names of at most 1,024 characters, values of at most 2,048 bytes', async () => {
    const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'x']));
    refused({ metrics: { default_labels: labels(31) } }, 'metrics.default_labels');
    await builds({ metrics: { default_labels: labels(30) } });
    refused(
      { metrics: { default_labels: { ['l'.repeat(1025)]: 'x' } } },
      `metrics.default_labels.${'l'.repeat(64)}…`,
    );
    await builds({ metrics: { default_labels: { ['l'.repeat(1024)]: 'x' } } });
    const value = 'é'.repeat(1024); // 2,048 bytes of UTF-8
    refused({ metrics: { default_labels: { a: `${value}x` } } }, 'metrics.default_labels.a', value);
    await builds({ metrics: { default_labels: { a: value } } });
  });
});
