/**
 * Two copies of `@opentelemetry/api` in one process, the globals registered by an older one (an
 * application's or library's nested copy): our copy cannot read them, so `activeContext` and
 * `registerGlobal` do nothing — our spans never joined the application's active span, silently.
 * Found from outside: a Node 24 project on the 3.x line whose setup library brought API 1.9.
 * The tracer now says so once, naming both versions (a copy of the same or a newer minor is
 * readable, and says nothing). The older copy's registry is simulated by its global object.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Logger } from '../../lib/core/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { peerVersion } from '../../lib/tracing/otel/sdk.js';

const ours = peerVersion('@opentelemetry/api')!;
const [major, minor] = ours.split('.').map(Number) as [number, number];
const key = Symbol.for(`opentelemetry.js.api.${major}`);
const registry = globalThis as unknown as Record<symbol, unknown>;

function warnings(options: { activeContext?: boolean; registerGlobal?: boolean }): string[] {
  const seen: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (message) => {
      seen.push(String(message));
    },
    error: () => {},
    child: () => logger,
  };
  const tracer = createOtelTracer({ exporter: 'memory', logger, ...options });
  tracer.startSpan('one').end();
  tracer.close();
  return seen.filter((m) => m.includes('@opentelemetry/api'));
}

describe('globals registered by another @opentelemetry/api copy', () => {
  afterEach(() => {
    delete registry[key];
  });

  it('an older minor holds them: activeContext warns once, naming both versions and the fix', () => {
    assert.equal(registry[key], undefined, 'nothing registered before this test');
    registry[key] = { version: `${major}.${minor - 1}.0` };
    const seen = warnings({ activeContext: true });
    assert.equal(seen.length, 1);
    assert.match(
      seen[0]!,
      new RegExp(
        `registered by @opentelemetry/api ${major}\\.${minor - 1}\\.0, but hyperion/tracing/otel loads ` +
          `@opentelemetry/api ${ours.replaceAll('.', '\\.')}, which cannot read them: activeContext: true has no effect`,
      ),
    );
    assert.match(seen[0]!, /Install one copy of @opentelemetry\/api/);
  });
  it('registerGlobal is named too', () => {
    registry[key] = { version: `${major}.${minor - 1}.3` };
    assert.match(warnings({ registerGlobal: true })[0] ?? '', /: registerGlobal: true has no effect/);
  });
  it('a newer minor or the same version: readable, no warning', () => {
    registry[key] = { version: `${major}.${minor + 1}.0` };
    assert.deepEqual(warnings({ activeContext: true }), []);
    registry[key] = { version: ours };
    assert.deepEqual(warnings({ activeContext: true }), []);
  });
  it('neither option: no warning (the tracer uses no global)', () => {
    registry[key] = { version: `${major}.${minor - 1}.0` };
    assert.deepEqual(warnings({}), []);
  });
});
