/**
 * W3C Baggage through the propagate-only tracer (`hyperion/tracing`) and the OpenTelemetry tracer
 * (`hyperion/tracing/otel`, recording and `exporter: 'none'`, on whichever OpenTelemetry line the
 * run uses), property-based (fast-check) from the specification's grammar: what `extract` reads
 * from a valid header, and that what `inject` writes reads back as the same entries. Every tracer
 * gets the same generated inputs, and the tracers must agree with each other too (the OpenTelemetry
 * tracer's baggage was upstream's: it dropped non-UTF-8 escapes, wrote `(` `)` in keys and sent no
 * header for a lone surrogate). `HYPERION_W3C_RUNS` sets the number of cases (default 200; e.g.
 * 20000 for a longer run).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { createApp } from '../../lib/core/app.js';
import type { Tracer } from '../../lib/core/contracts.js';
import { contextFromHeaders, injectHeaders } from '../../lib/core/span.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

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

const tracers: [string, () => Tracer][] = [
  ['createPropagateOnlyTracer', () => createPropagateOnlyTracer()],
  ['otel exporter none (propagate-only)', () => createOtelTracer({ exporter: 'none' })],
  ['otel memory (recording)', () => createOtelTracer({ exporter: 'memory' })],
];

describe('W3C baggage, the same on every tracer and input', () => {
  const apps = tracers.map(([name, make]) => ({ name, app: createApp({ tracer: make() }) }));
  after(() => Promise.all(apps.map(({ app }) => app.close())));
  /** Runs `check` for every tracer's app (a failure names the tracer). */
  const each = (check: (app: (typeof apps)[number]['app']) => void) => {
    for (const { name, app } of apps) {
      try {
        check(app);
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
      }
    }
  };
  /** What every tracer's inject writes for `baggage`: one header, or `undefined` for none. */
  const injected = (baggage: Record<string, string>) => {
    const out = apps.map(
      ({ app }) => injectHeaders(app.ctx.with({ baggage }), {} as Record<string, string>).baggage,
    );
    for (let i = 1; i < out.length; i++)
      assert.equal(out[i], out[0], `${apps[i]!.name} wrote what ${apps[0]!.name} did`);
    return out[0];
  };

  it('a value or key with a lone surrogate is sent as U+FFFD, never thrown (the other entries go too)', () => {
    // The OpenTelemetry tracer (upstream's injection) sent no baggage header at all for it.
    const header = injected({ user: 'ok', name: 'Ren\ud83d', '\udc00k': 'v' });
    assert.equal(header, 'user=ok,name=Ren%EF%BF%BD,%EF%BF%BDk=v');
    each((app) =>
      assert.deepEqual(
        { ...contextFromHeaders(app.ctx, { baggage: header! }).baggage },
        { user: 'ok', name: 'Ren\ufffd', '\ufffdk': 'v' },
      ),
    );
  });

  it('percent-encoded octets that are not UTF-8 are read as U+FFFD; a % that starts no escape drops its member', () => {
    // The OpenTelemetry tracer (upstream's decoding) dropped the member.
    each((app) => {
      const read = (baggage: string) => ({
        ...contextFromHeaders(app.ctx, { traceparent: TP, baggage }).baggage,
      });
      assert.deepEqual(read('a=%FF,b=2'), { a: '\ufffd', b: '2' });
      assert.deepEqual(read('name=Ren%E9,b=2'), { name: 'Ren\ufffd', b: '2' });
      assert.deepEqual(read('cut=%F0%9F%98,b=2'), { cut: '\ufffd', b: '2' });
      assert.deepEqual(read('%FFk=1,b=2'), { '\ufffdk': '1', b: '2' });
      assert.deepEqual(read('a=%zz,b=%2,c=%,d=ok%25'), { d: 'ok%' });
    });
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
        each((app) => {
          const got = contextFromHeaders(app.ctx, { traceparent: TP, baggage: `k=${raw},z=1` }).baggage;
          assert.deepEqual({ ...got }, { k: text.join(''), z: '1' });
        });
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
    // The OpenTelemetry tracer (upstream's injection) wrote `region(eu)=a(b)`.
    assert.equal(injected({ 'region(eu)': 'a(b)' }), 'region%28eu%29=a(b)');
    fc.assert(
      fc.property(fc.dictionary(any, any, { maxKeys: 6 }), (baggage) => {
        const header = injected(baggage); // the same from every tracer
        if (header !== undefined) assert.match(header, grammar);
      }),
      { numRuns: RUNS },
    );
  });

  it('inject never throws, and extract reads back what it wrote (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(text, text, { maxKeys: 6 }), (baggage) => {
        const header = injected(baggage); // the same from every tracer
        const expected: Record<string, string> = {};
        for (const [k, v] of Object.entries(baggage)) if (k !== '') expected[wellFormed(k)] = wellFormed(v);
        each((app) => {
          const back = header === undefined ? {} : contextFromHeaders(app.ctx, { baggage: header }).baggage;
          assert.deepEqual({ ...back }, expected);
        });
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
        each((app) => {
          const ctx = contextFromHeaders(app.ctx, { traceparent: TP, baggage: headers });
          assert.deepEqual({ ...ctx.baggage }, expected);
          // Passed on: the entries read back the same downstream (properties are not carried).
          const out = injectHeaders(ctx, {});
          assert.deepEqual({ ...contextFromHeaders(app.ctx, out).baggage }, expected);
        });
      }),
      { numRuns: RUNS },
    );
  });
  it('several headers are one list for the 8192-character limit; an array holding a non-string is ignored', () => {
    // 72 members fill the first header up to the limit; the OpenTelemetry tracer (as upstream)
    // still read the second header's `tail=1`, and the array holding a number in part.
    const first = Array.from({ length: 250 }, (_, i) => `m${i}=${'a'.repeat(i * 3)}`).join(',');
    each((app) => {
      const read = contextFromHeaders(app.ctx, { traceparent: TP, baggage: [first, 'tail=1'] }).baggage;
      assert.equal(Object.keys(read).length, 72);
      assert.equal(read.tail, undefined);
      const mixed = { traceparent: TP, baggage: ['a=1', 5] } as unknown as Record<string, string>;
      assert.deepEqual({ ...contextFromHeaders(app.ctx, mixed).baggage }, {});
    });
  });

  it('any header, malformed ones included, is read and passed on the same by every tracer (property)', () => {
    const unit = fc.oneof(
      fc.constantFrom(...'ab=,;% \t(){}"\\'.split('')),
      fc.constantFrom('%2', '%zz', '%FF', '%e9', '%C3%A9', '%F0%9F%98', '%28', '%2C', 'é', '\u{1f600}'),
    );
    fc.assert(
      fc.property(fc.array(fc.string({ unit, maxLength: 24 }), { minLength: 1, maxLength: 3 }), (headers) => {
        const read = apps.map(
          ({ app }) => contextFromHeaders(app.ctx, { traceparent: TP, baggage: headers }).baggage,
        );
        const sent = apps.map(({ app }, i) =>
          injectHeaders(app.ctx.with({ baggage: read[i]! }), {} as Record<string, string>),
        );
        for (let i = 1; i < apps.length; i++) {
          assert.deepEqual({ ...read[i] }, { ...read[0] }, `${apps[i]!.name} read what ${apps[0]!.name} did`);
          assert.equal(sent[i]!.baggage, sent[0]!.baggage, `${apps[i]!.name} sent what ${apps[0]!.name} did`);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
