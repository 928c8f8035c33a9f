import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readEnv, redisOptionsFromUrl } from '../../demo/env.js';
import { parseId, parseOrderInput } from '../../demo/services/model.js';
import { buildTree, renderTree, type TreeSpan } from '../../demo/trace-tree.js';
import { quantile, seededRandom, zipf } from '../../demo/traffic.js';

describe('demo environment', () => {
  it('picks the tracing endpoint in documented order and defaults the rest', () => {
    assert.equal(readEnv({}).tracingEndpoint, undefined);
    assert.equal(readEnv({}).sampleRate, undefined); // the tracer's default: every trace
    assert.equal(readEnv({}).host, '127.0.0.1');
    assert.equal(
      readEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318/' }).tracingEndpoint,
      'http://j:4318/v1/traces',
    );
    assert.equal(
      readEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/x',
      }).tracingEndpoint,
      'http://b/x',
    );
    assert.equal(
      readEnv({ HYPERION_TRACING_ENDPOINT: 'c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/x' })
        .tracingEndpoint,
      'c:4318',
    );
    assert.equal(readEnv({ HYPERION_SAMPLE_RATE: '0.25' }).sampleRate, 0.25);
    assert.throws(() => readEnv({ HYPERION_SAMPLE_RATE: '2' }), /HYPERION_SAMPLE_RATE/);
    assert.throws(() => readEnv({ LOG_LEVEL: 'loud' }), /LOG_LEVEL/);
  });

  it('turns REDIS_URL into adapter options without losing or leaking the password', () => {
    assert.deepEqual(redisOptionsFromUrl('redis://localhost'), { addresses: ['localhost:6379'] });
    assert.deepEqual(redisOptionsFromUrl('redis://u:p%40ss@h:7000/2'), {
      addresses: ['h:7000'],
      password: 'p@ss',
      username: 'u',
      db: 2,
    });
    assert.throws(() => redisOptionsFromUrl('http://h'), /redis:\/\//);
    assert.throws(
      () => redisOptionsFromUrl('redis://:secret@h/x'),
      (e: Error) => /database/.test(e.message) && !e.message.includes('secret'),
    );
  });
});

describe('order validation', () => {
  it('accepts a valid order and reports every bad field with its path', () => {
    const ok = parseOrderInput({
      userId: 3,
      items: [{ sku: 'mug', quantity: 2, unitPriceCents: 450 }],
      extra: 1,
    });
    assert.deepEqual(ok, { userId: 3, items: [{ sku: 'mug', quantity: 2, unitPriceCents: 450 }] });
    try {
      parseOrderInput({ userId: 0, items: [{ sku: 'Mug!', quantity: 101 }] });
      assert.fail('should throw');
    } catch (err) {
      const e = err as { status: number; body: { fields: Record<string, string[]> } };
      assert.equal(e.status, 400);
      assert.deepEqual(e.body.fields, {
        userId: ['must be ≥ 1'],
        'items.0.sku': ['must be 1-32 of a-z, 0-9, -'],
        'items.0.quantity': ['must be ≤ 100'],
        'items.0.unitPriceCents': ['is required'],
      });
    }
    assert.throws(() => parseOrderInput('x'), { status: 400 });
    assert.throws(() => parseOrderInput({ userId: 1, items: [] }), { status: 400 });
  });

  it('parses path ids strictly', () => {
    assert.equal(parseId('42'), 42);
    for (const bad of ['0', '-1', '1.5', 'abc', '', '99999999999', '1e3'])
      assert.throws(() => parseId(bad), { status: 400 });
  });
});

describe('traffic and trace helpers', () => {
  it('draws a reproducible, skewed user sequence', () => {
    const a = zipf(100, seededRandom(1));
    const b = zipf(100, seededRandom(1));
    const xs = Array.from({ length: 2000 }, () => a());
    assert.deepEqual(
      xs.slice(0, 50),
      Array.from({ length: 50 }, () => b()),
    );
    assert.ok(xs.every((x) => x >= 1 && x <= 100));
    const ones = xs.filter((x) => x === 1).length;
    const fifties = xs.filter((x) => x === 50).length;
    assert.ok(ones > 5 * fifties, `user 1 (${ones}) far more frequent than user 50 (${fifties})`);
    assert.equal(quantile([5, 1, 4, 2, 3], 0.5), 3);
    assert.equal(quantile([], 0.99), 0);
  });

  it('builds a tree from parent links and renders it indented, children by start time', () => {
    const span = (
      spanId: string,
      parentId: string | undefined,
      service: string,
      startUs: number,
    ): TreeSpan => ({
      traceId: 't',
      spanId,
      parentId,
      service,
      name: `op-${spanId}`,
      kind: 'internal',
      startUs,
      durationUs: 1500,
      attributes: spanId === 'c' ? { 'cache.hit': true, 'cache.layer': 'l2' } : {},
      error: spanId === 'd',
    });
    const roots = buildTree([
      span('d', 'a', 'order', 30),
      span('a', undefined, 'gw', 0),
      span('c', 'a', 'user', 10),
    ]);
    assert.equal(roots.length, 1);
    assert.deepEqual(
      roots[0]!.children.map((n) => n.span.spanId),
      ['c', 'd'],
    );
    const lines = renderTree(roots);
    // The kind follows the name: a call's client span and the callee's server span share a name.
    assert.match(lines[0]!, /^gw +op-a \[internal\] +1\.50 ms$/);
    assert.match(lines[1]!, /^ {2}user +op-c \[internal\] +hit l2 +1\.50 ms$/);
    assert.match(lines[2]!, /^ {2}order +op-d \[internal\] +ERROR +1\.50 ms$/);
  });
});
