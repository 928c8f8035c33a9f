/**
 * W3C Baggage through the propagate-only tracer (`hyperion/tracing`), property-based (fast-check)
 * from the specification's grammar: what `extract` reads from a valid header, and that what
 * `inject` writes reads back as the same entries. `HYPERION_W3C_RUNS` sets the number of cases
 * (default 200; e.g. 20000 for a longer run).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createApp } from '../../lib/core/app.js';
import { contextFromHeaders, injectHeaders } from '../../lib/core/span.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/propagate-only.js';

const RUNS = Number(process.env.HYPERION_W3C_RUNS ?? 200);
const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** `s` as a UTF-8 encoder writes it: each lone surrogate becomes U+FFFD. */
const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8');

/** Any UTF-16 text, lone surrogates included (a value cut in the middle of an emoji). */
const text = fc.string({
  unit: fc.oneof(
    fc.constantFrom('a', 'Z', '0', ' ', '=', ',', ';', '%', '"', '\\', 'é', '\u{1f600}'),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  ),
  maxLength: 8,
});

describe('propagate-only tracer: W3C baggage', () => {
  const app = createApp({ tracer: createPropagateOnlyTracer() });

  it('a value or key with a lone surrogate is sent as U+FFFD, never thrown (the other entries go too)', () => {
    const ctx = app.ctx.with({ baggage: { user: 'ok', name: 'Ren\ud83d', '\udc00k': 'v' } });
    const out = injectHeaders(ctx, {} as Record<string, string>);
    assert.equal(out.baggage, 'user=ok,name=Ren%EF%BF%BD,%EF%BF%BDk=v');
    assert.deepEqual(
      { ...contextFromHeaders(app.ctx, { baggage: out.baggage! }).baggage },
      { user: 'ok', name: 'Ren\ufffd', '\ufffdk': 'v' },
    );
  });

  it('percent-encoded octets that are not UTF-8 are read as U+FFFD; a % that starts no escape drops its member', () => {
    const read = (baggage: string) => ({
      ...contextFromHeaders(app.ctx, { traceparent: TP, baggage }).baggage,
    });
    assert.deepEqual(read('a=%FF,b=2'), { a: '\ufffd', b: '2' });
    assert.deepEqual(read('name=Ren%E9,b=2'), { name: 'Ren\ufffd', b: '2' });
    assert.deepEqual(read('cut=%F0%9F%98,b=2'), { cut: '\ufffd', b: '2' });
    assert.deepEqual(read('a=%zz,b=%2,c=%,d=ok%25'), { d: 'ok%' });
  });

  it('percent-encoded bytes are decoded as UTF-8 is, with U+FFFD for what is not UTF-8 (property)', () => {
    const decoder = new TextDecoder(); // WHATWG: each maximal invalid subpart becomes U+FFFD
    const part = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 6 }).map((bytes) => ({ bytes, literal: '' })),
      fc.constantFrom('a', 'Z', '9', '-', '.', '=').map((literal) => ({ bytes: undefined, literal })),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), fc.boolean(), (parts, upper) => {
        let raw = '';
        const text: string[] = [];
        let run: number[] = []; // adjacent escapes are one byte sequence
        for (const { bytes, literal } of parts) {
          if (bytes === undefined) {
            raw += literal;
            text.push(decoder.decode(Uint8Array.from(run)), literal);
            run = [];
            continue;
          }
          const hexed = Buffer.from(bytes).toString('hex');
          raw += (upper ? hexed.toUpperCase() : hexed).replace(/../g, '%$&');
          run.push(...bytes);
        }
        text.push(decoder.decode(Uint8Array.from(run)));
        const got = contextFromHeaders(app.ctx, { traceparent: TP, baggage: `k=${raw},z=1` }).baggage;
        assert.deepEqual({ ...got }, { k: text.join(''), z: '1' });
      }),
      { numRuns: RUNS },
    );
  });

  it('what inject writes is a valid baggage-string of the specification, whatever the keys and values (property)', () => {
    // key = token (RFC 7230); value = *baggage-octet; members joined by ","
    const token = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
    const octets = '[\\x21\\x23-\\x2b\\x2d-\\x3a\\x3c-\\x5b\\x5d-\\x7e]*';
    const grammar = new RegExp(`^${token}=${octets}(?:,${token}=${octets}){0,179}$`);
    const any = fc.string({
      unit: fc.oneof(fc.constantFrom(...'()[]<>@,;:\\"/?={} \t!~*\'%é'.split('')), text),
      maxLength: 6,
    });
    assert.equal(
      injectHeaders(app.ctx.with({ baggage: { 'region(eu)': 'a(b)' } }), {} as Record<string, string>)
        .baggage,
      'region%28eu%29=a(b)',
    );
    fc.assert(
      fc.property(fc.dictionary(any, any, { maxKeys: 6 }), (baggage) => {
        const out = injectHeaders(app.ctx.with({ baggage }), {} as Record<string, string>);
        if (out.baggage !== undefined) assert.match(out.baggage, grammar);
      }),
      { numRuns: RUNS },
    );
  });

  it('inject never throws, and extract reads back what it wrote (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(text, text, { maxKeys: 6 }), (baggage) => {
        const out = injectHeaders(app.ctx.with({ baggage }), {} as Record<string, string>);
        const expected: Record<string, string> = {};
        for (const [k, v] of Object.entries(baggage)) if (k !== '') expected[wellFormed(k)] = wellFormed(v);
        const back = out.baggage === undefined ? {} : contextFromHeaders(app.ctx, out).baggage;
        assert.deepEqual({ ...back }, expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('a valid header (spec grammar: OWS, properties, percent-encoding, several headers) is read as its entries (property)', () => {
    const tchar = fc.constantFrom(..."abzAZ09!#$&'*+-.^_`|~".split(''));
    const token = fc.array(tchar, { minLength: 1, maxLength: 6 }).map((a) => a.join(''));
    // baggage-octet, and percent-encoded UTF-8 (what a value outside it must be sent as)
    const octet = fc.constantFrom(..."!#$&'()*+-./09:<=>?@AZ[]^_`az{|}~".split(''));
    const valuePart = fc.oneof(
      { weight: 4, arbitrary: octet.map((c) => [c, c] as const) },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom('%', ',', ';', ' ', 'é', '\u{1f600}', '"', '\\')
          .map((c) => [encodeURIComponent(c), c] as const),
      },
    );
    const value = fc.array(valuePart, { maxLength: 6 }).map((ps) => ({
      raw: ps.map((p) => p[0]).join(''),
      decoded: ps.map((p) => p[1]).join(''),
    }));
    const ows = fc.constantFrom('', ' ', '\t', ' \t ');
    const property = fc.oneof(
      token,
      fc.tuple(token, ows, ows, value).map(([k, a, b, v]) => `${k}${a}=${b}${v.raw}`),
    );
    const member = fc
      .tuple(token, ows, ows, value, fc.array(fc.tuple(ows, ows, property), { maxLength: 2 }))
      .map(([k, a, b, v, props]) => ({
        key: k,
        value: v.decoded,
        text: `${k}${a}=${b}${v.raw}${props.map(([c, d, p]) => `${c};${d}${p}`).join('')}`,
      }));
    const header = fc.array(fc.tuple(ows, member, ows), { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(header, fc.integer({ min: 1, max: 3 }), (members, split) => {
        const texts = members.map(([a, m, b]) => `${a}${m.text}${b}`);
        // Several headers are one list (node:http gives them as an array).
        const cut = Math.ceil(texts.length / split);
        const headers: string[] = [];
        for (let i = 0; i < texts.length; i += cut) headers.push(texts.slice(i, i + cut).join(','));
        const expected: Record<string, string> = {};
        for (const [, m] of members) expected[m.key] = m.value; // a duplicated key keeps its last value
        const ctx = contextFromHeaders(app.ctx, { traceparent: TP, baggage: headers });
        assert.deepEqual({ ...ctx.baggage }, expected);
        // Passed on: the entries read back the same downstream (properties are not carried).
        const out = injectHeaders(ctx, {});
        assert.deepEqual({ ...contextFromHeaders(app.ctx, out).baggage }, expected);
      }),
      { numRuns: RUNS },
    );
  });
});
