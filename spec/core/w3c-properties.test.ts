/**
 * W3C Trace Context in the core (the no-op tracer's pass-through, `parseTraceparent`,
 * `isValidSpanContext`), property-based (fast-check) from the specification's grammar: a valid
 * `traceparent` / `tracestate` is read and passed on as the specification says (what is kept,
 * dropped, normalised), an invalid one is ignored, and nothing throws. `HYPERION_W3C_RUNS` sets
 * the number of cases (default 200; e.g. 20000 for a longer run).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createApp } from '../../lib/core/app.js';
import type { Span, SpanContext } from '../../lib/core/contracts.js';
import { createConsoleLogger } from '../../lib/core/logger.js';
import { contextFromHeaders, injectHeaders, startSpan } from '../../lib/core/span.js';
import { isValidSpanContext, parseTraceparent } from '../../lib/core/w3c.js';

const RUNS = Number(process.env.HYPERION_W3C_RUNS ?? 200);

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const traceId = hex(32).filter((s) => s !== '0'.repeat(32));
const spanId = hex(16).filter((s) => s !== '0'.repeat(16));
/** HTTP's optional whitespace: spaces and tabs only. */
const ows = fc.constantFrom('', ' ', '\t', ' \t ');
/** Whitespace that is not OWS: a header with it around the value is not a valid traceparent. */
const notOws = fc.constantFrom('\u00a0', '\ufeff', '\n', '\r\n', '\v', '\f', '\u2028', '\u3000');

/** What a header with these fields reads back as, and the `traceparent` passed on for it. */
interface Valid {
  header: string;
  traceId: string;
  spanId: string;
  flags: number;
}
const validTraceparent: fc.Arbitrary<Valid> = fc
  .tuple(
    ows,
    // 00, or a future version (not ff) that may carry more fields after the flags
    fc.oneof(
      fc.constant(['00', ''] as const),
      fc
        .tuple(
          hex(2).filter((v) => v !== '00' && v !== 'ff'),
          fc.oneof(
            fc.constant(''),
            fc.string({ maxLength: 12 }).map((s) => `-${s}`),
          ),
        )
        .map(([v, rest]) => [v, rest] as const),
    ),
    traceId,
    spanId,
    hex(2),
    ows,
  )
  // A future version's tail ending in OWS would have it trimmed: keep the tail's end non-blank.
  .filter(([, [, rest]]) => !/[ \t]$/.test(rest))
  .map(([a, [v, rest], t, s, f, b]) => ({
    header: `${a}${v}-${t}-${s}-${f}${rest}${b}`,
    traceId: t,
    spanId: s,
    flags: Number.parseInt(f, 16),
  }));

const mk = (sc: unknown): Span =>
  ({
    spanContext: () => sc as SpanContext,
    setAttributes() {
      return this;
    },
    addEvent() {
      return this;
    },
    recordError() {
      return this;
    },
    setStatus() {
      return this;
    },
    updateName() {
      return this;
    },
    end() {},
    isRecording: () => false,
  }) as Span;

describe('W3C traceparent in the core (no-op tracer pass-through)', () => {
  const app = createApp();

  it('a valid header is read, and passed on as version 00 with the reserved flags cleared (property)', () => {
    fc.assert(
      fc.property(validTraceparent, (tp) => {
        const sc = parseTraceparent(tp.header);
        assert.ok(sc, tp.header);
        assert.equal(sc.traceId, tp.traceId);
        assert.equal(sc.spanId, tp.spanId);
        assert.equal(sc.traceFlags, tp.flags);
        const out = injectHeaders(contextFromHeaders(app.ctx, { traceparent: tp.header }), {});
        const flags = (tp.flags & 0x03).toString(16).padStart(2, '0');
        assert.deepEqual({ ...out }, { traceparent: `00-${tp.traceId}-${tp.spanId}-${flags}` });
      }),
      { numRuns: RUNS },
    );
  });

  it('an invalid header is ignored, never thrown (property)', () => {
    const upper = fc
      .tuple(validTraceparent, fc.nat())
      .map(([tp, i]) => {
        const chars = [...tp.header];
        const at = chars.map((c, j) => (/[a-f]/.test(c) ? j : -1)).filter((j) => j >= 0);
        if (at.length === 0) return undefined;
        const j = at[i % at.length]!;
        chars[j] = chars[j]!.toUpperCase();
        return chars.join('');
      })
      .filter((h): h is string => h !== undefined);
    const invalid = fc.oneof(
      upper,
      fc.tuple(traceId, spanId, hex(2)).map(([t, s, f]) => `ff-${t}-${s}-${f}`),
      fc.tuple(spanId, hex(2)).map(([s, f]) => `00-${'0'.repeat(32)}-${s}-${f}`),
      fc.tuple(traceId, hex(2)).map(([t, f]) => `00-${t}-${'0'.repeat(16)}-${f}`),
      fc
        .tuple(traceId, spanId, hex(2), fc.string({ maxLength: 8 }))
        .map(([t, s, f, r]) => `00-${t}-${s}-${f}-${r}`),
      fc
        .tuple(traceId, spanId, hex(2), fc.integer({ min: -1, max: 1 }), fc.constantFrom(0, 1, 2))
        .map(([t, s, f, d, field]) => {
          const parts = [t, s, f];
          const p = parts[field]!;
          parts[field] = d < 0 ? p.slice(1) : d > 0 ? `${p}a` : `${p.slice(1)}.`;
          return `00-${parts.join('-')}`;
        }),
      fc
        .tuple(validTraceparent, notOws, fc.boolean())
        .map(([tp, w, before]) => (before ? w + tp.header : tp.header + w)),
      // a control character anywhere (a tab is OWS: left out)
      fc
        .tuple(
          validTraceparent,
          fc.integer({ min: 0, max: 31 }).filter((c) => c !== 9),
          fc.nat(),
        )
        .map(([tp, c, i]) => {
          const at = i % (tp.header.length + 1);
          return tp.header.slice(0, at) + String.fromCharCode(c) + tp.header.slice(at);
        }),
    );
    fc.assert(
      fc.property(invalid, (header) => {
        // A control character spliced into a future version's free tail keeps the header valid.
        const trimmed = header.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
        fc.pre(!/^(?!00|ff)[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}-/.test(trimmed));
        assert.equal(parseTraceparent(header), undefined, JSON.stringify(header));
        const ctx = contextFromHeaders(app.ctx, { traceparent: header });
        assert.equal(ctx.span, app.ctx.span, 'no parent');
        assert.deepEqual({ ...injectHeaders(ctx, {}) }, {});
      }),
      { numRuns: RUNS },
    );
  });

  it('whitespace around the header: spaces and tabs are trimmed, anything else makes it invalid', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    for (const ok of [` ${tp}`, `\t${tp} \t`, `${tp} `]) assert.ok(parseTraceparent(ok), JSON.stringify(ok));
    for (const bad of ['\u00a0', '\ufeff', '\n', '\r\n', '\v', '\f', '\u2028'])
      for (const header of [bad + tp, tp + bad])
        assert.equal(parseTraceparent(header), undefined, JSON.stringify(header));
    // and from a JavaScript caller, anything but a string is no header
    for (const odd of [42, null, {}, ['x']])
      assert.equal(parseTraceparent(odd as unknown as string), undefined);
  });
});

describe('W3C tracestate in the core (no-op tracer pass-through)', () => {
  const app = createApp();
  const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const keychar = fc.constantFrom(...'abz09_-*/@'.split(''));
  const key = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom('a', 'z', '0', '9'), fc.array(keychar, { maxLength: 8 }))
        .map(([h, t]) => h + t.join('')),
    },
    // multi-tenant and the length limits
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'tenant@system',
        'z'.repeat(256),
        `${'t'.repeat(241)}@${'v'.repeat(14)}`,
        'foo@',
        'foo@@bar',
      ),
    },
  );
  const nblk = fc
    .integer({ min: 0x21, max: 0x7e })
    .filter((c) => c !== 0x2c && c !== 0x3d)
    .map((c) => String.fromCharCode(c));
  const value = fc
    .tuple(fc.array(fc.oneof(nblk, fc.constant(' ')), { maxLength: 8 }), nblk)
    .map(([a, last]) => a.join('') + last);
  const list = fc.uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, minLength: 1, maxLength: 32 });

  it('a valid list (OWS, empty members, several headers, up to 32 members) is passed on as its members (property)', () => {
    fc.assert(
      fc.property(
        list,
        fc.array(ows, { minLength: 66, maxLength: 66 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        (members, blanks, split, empty) => {
          const texts = members.map(([k, v], i) => `${blanks[2 * i]}${k}=${v}${blanks[2 * i + 1]}`);
          if (empty) texts.splice(texts.length >> 1, 0, ' ', '');
          const cut = Math.ceil(texts.length / split);
          const headers: string[] = [];
          for (let i = 0; i < texts.length; i += cut) headers.push(texts.slice(i, i + cut).join(','));
          const out = injectHeaders(
            contextFromHeaders(app.ctx, { traceparent: TP, tracestate: headers }),
            {} as Record<string, string>,
          );
          assert.equal(out.traceparent, TP);
          assert.equal(out.tracestate, members.map(([k, v]) => `${k}=${v}`).join(','));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('an invalid list (33 members, a bad key or value) is dropped whole; the traceparent stays (property)', () => {
    const badKey = fc.constantFrom('@foo', 'FOO', 'foo.bar', 'foo ', 'z'.repeat(257), '', 'ä');
    const badValue = fc.constantFrom('', 'a,b', 'a=b', 'x'.repeat(257), 'a\tb', 'é', 'a\nb');
    const broken = fc.oneof(
      fc.tuple(list, badKey, value, fc.nat()).map(([m, k, v, i]) => ({ m, bad: `${k}=${v}`, i })),
      fc.tuple(list, key, badValue, fc.nat()).map(([m, k, v, i]) => ({ m, bad: `${k}=${v}`, i })),
      fc.tuple(list, fc.nat()).map(([m, i]) => ({ m, bad: 'novalue', i })),
    );
    const tooMany = fc.uniqueArray(fc.tuple(key, value), {
      selector: ([k]) => k,
      minLength: 33,
      maxLength: 40,
    });
    fc.assert(
      fc.property(
        fc.oneof(
          broken,
          tooMany.map((m) => ({ m, bad: undefined, i: 0 })),
        ),
        ({ m, bad, i }) => {
          const texts = m.map(([k, v]) => `${k}=${v}`);
          if (bad !== undefined) texts.splice(i % (texts.length + 1), 0, bad);
          const out = injectHeaders(
            contextFromHeaders(app.ctx, { traceparent: TP, tracestate: texts.join(',') }),
            {} as Record<string, string>,
          );
          assert.deepEqual({ ...out }, { traceparent: TP });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a duplicated key keeps its first member', () => {
    const out = injectHeaders(
      contextFromHeaders(app.ctx, { traceparent: TP, tracestate: ['foo=1,bar=2', 'foo=3'] }),
      {} as Record<string, string>,
    );
    assert.equal(out.tracestate, 'foo=1,bar=2');
  });
});

describe('isValidSpanContext: any span context of the user’s own', () => {
  it('true exactly for hex ids of 32 / 16 digits (either case), not all zeros; never throws (property)', () => {
    const id = (n: number) =>
      fc.oneof(
        hex(n),
        hex(n).map((s) => s.toUpperCase()),
        fc.constant('0'.repeat(n)),
        fc.string({ minLength: n, maxLength: n }),
        fc.anything(),
      );
    fc.assert(
      fc.property(
        fc.record({ traceId: id(32), spanId: id(16), traceFlags: fc.anything() }, { requiredKeys: [] }),
        (sc) => {
          const ok = (v: unknown, n: number) =>
            typeof v === 'string' && new RegExp(`^[0-9a-f]{${n}}$`, 'i').test(v) && !/^0+$/.test(v);
          assert.equal(isValidSpanContext(sc as SpanContext), ok(sc.traceId, 32) && ok(sc.spanId, 16));
        },
      ),
      { numRuns: RUNS },
    );
  });

  // Found from outside (/tmp/R5/w3c.mts): `isValidSpanContext(null)` threw "Cannot destructure
  // property 'traceId'", though the README says it is false for anything else. Fails on the old code.
  it('is false, never a throw, for a span context that is no object at all', () => {
    for (const sc of [null, undefined, 'x', 5, true])
      assert.equal(isValidSpanContext(sc as unknown as SpanContext), false, String(sc));
  });

  it('a span whose spanContext() gives ids that are not hex strings is no parent: startSpan, inject and logging never throw', () => {
    const lines: string[] = [];
    const app = createApp({ logger: createConsoleLogger({ write: (l) => lines.push(l) }) });
    for (const sc of [
      {},
      { traceId: null, spanId: null },
      { traceId: 'g'.repeat(32), spanId: 'h'.repeat(16), traceFlags: 1 },
    ]) {
      const ctx = app.ctx.with({ span: mk(sc) });
      assert.deepEqual({ ...injectHeaders(ctx, {}) }, {}, JSON.stringify(sc));
      const child = startSpan(ctx, 'child');
      assert.equal(isValidSpanContext(child.span.spanContext()), false);
      child.span.end();
      ctx.logger.info('inside');
      assert.equal(JSON.parse(lines.pop()!).trace_id, undefined);
    }
  });
});
