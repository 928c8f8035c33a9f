/**
 * Logs correlated with traces: every record written through `ctx.logger` while a span is active
 * carries trace_id / span_id / trace_flags, with the built-in JSON logger and with a real pino
 * instance given as-is; nested spans rebind (each field once); no span, no fields.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createApp } from '../../lib/core/app.js';
import type { Logger } from '../../lib/core/contracts.js';
import { bindLogger, traceFields } from '../../lib/core/log-binding.js';
import { createConsoleLogger } from '../../lib/core/logger.js';
import { noopLogger, noopSpan } from '../../lib/core/noop.js';
import { withSpan } from '../../lib/core/span.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

type Line = Record<string, unknown>;

function jsonLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  return { lines, logger: createConsoleLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l)) }) };
}

function pinoLogger(): { logger: Logger; lines: Line[]; raw: string[] } {
  const lines: Line[] = [];
  const raw: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) {
        raw.push(l);
        lines.push(JSON.parse(l));
      }
      done();
    },
  });
  // A pino instance exactly as an application makes it, passed to createApp unchanged.
  return { lines, raw, logger: pino({ level: 'debug' }, dest) as unknown as Logger };
}

for (const [name, make] of [
  ['built-in JSON logger', jsonLogger],
  ['pino', pinoLogger],
] as const) {
  describe(`ctx.logger inside spans (${name})`, () => {
    it('records inside withSpan carry the span ids; outside, none; nested spans rebind once', async () => {
      const { logger, lines, ...rest } = make();
      const tracer = createOtelTracer({ exporter: 'memory' });
      const app = createApp({ tracer, logger });
      app.ctx.logger.info('outside');
      await withSpan(app.ctx, 'outer', async (ctx, outer) => {
        ctx.logger.info('in outer', { user: 7 });
        await withSpan(ctx.with({ logger: ctx.logger.child({ request_id: 'r1' }) }), 'inner', (c, inner) => {
          c.logger.warn('in inner');
          const sc = inner.spanContext();
          assert.equal(sc.traceId, outer.spanContext().traceId);
        });
      });
      const spans = tracer.finishedSpans();
      await app.close();
      const [outside, inOuter, inInner] = lines;
      assert.equal(outside!.trace_id, undefined);
      const outer = spans.find((s) => s.name === 'outer')!.spanContext();
      const inner = spans.find((s) => s.name === 'inner')!.spanContext();
      assert.equal(inOuter!.trace_id, outer.traceId);
      assert.equal(inOuter!.span_id, outer.spanId);
      assert.equal(inOuter!.trace_flags, '01');
      assert.equal(inOuter!.user, 7, "the caller's fields are kept");
      assert.equal(inInner!.span_id, inner.spanId);
      assert.equal(inInner!.request_id, 'r1');
      if ('raw' in rest) {
        const rawInner = (rest as { raw: string[] }).raw[2]!;
        assert.equal(rawInner.split('"trace_id"').length, 2, `trace_id written once: ${rawInner}`);
        assert.equal(rawInner.split('"span_id"').length, 2, 'span_id written once');
      }
    });

    it('ctx.with({ span }) moves the binding to the new active span; with({ span: undefined }) drops it; a logger given inside a span is bound', async () => {
      const { logger, lines } = make();
      const tracer = createOtelTracer({ exporter: 'memory' });
      const app = createApp({ tracer, logger });
      const other = tracer.startSpan('other');
      let outerIds = { traceId: '', spanId: '' };
      await withSpan(app.ctx, 'outer', (ctx, outer) => {
        outerIds = outer.spanContext();
        ctx.with({ span: undefined }).logger.info('detached');
        ctx.with({ span: other }).logger.info('re-parented');
        ctx.with({ attributes: { a: 1 } }).logger.info('same span');
        const { logger: second, lines: secondLines } = jsonLogger();
        ctx.with({ logger: second }).logger.info('own logger');
        assert.equal(
          secondLines[0]!.span_id,
          outerIds.spanId,
          'a logger given inside the span is bound to it',
        );
      });
      other.end();
      await app.close();
      const byMsg = (m: string) => lines.find((l) => l.msg === m || l.message === m)!;
      assert.equal(byMsg('detached').trace_id, undefined, 'no active span: no trace fields');
      assert.equal(byMsg('re-parented').span_id, other.spanContext().spanId);
      assert.equal(byMsg('re-parented').trace_id, other.spanContext().traceId);
      assert.equal(byMsg('same span').span_id, outerIds.spanId);
    });

    it('an Error under any field keeps its name, message, code and stack; a hostile one never makes logging throw', () => {
      const { logger, lines } = make();
      const app = createApp({ logger });
      const err = Object.assign(new TypeError('db down'), { code: 'ECONNREFUSED' });
      const hostile = new Error('x');
      Object.defineProperty(hostile, 'message', {
        get() {
          throw new Error('getter');
        },
      });
      app.ctx.logger.error('failed', { error: err });
      assert.doesNotThrow(() => app.ctx.logger.error('hostile', { error: hostile }));
      const failed = lines.find((l) => l.msg === 'failed')!;
      // The stack says where it failed: it used to be left out (pino's own `err` keeps it).
      const { stack, ...rest } = failed.error as { stack?: unknown };
      assert.equal(stack, err.stack);
      assert.deepEqual(rest, { name: 'TypeError', message: 'db down', code: 'ECONNREFUSED' });
      const line = lines.find((l) => l.msg === 'hostile')!;
      assert.equal((line.error as { message: string }).message, '[unreadable]');
    });

    it("a record's own trace_id / span_id / trace_flags fields never replace the span's (records and child loggers)", async () => {
      const { logger, lines, ...rest } = make();
      const tracer = createOtelTracer({ exporter: 'memory' });
      const app = createApp({ tracer, logger });
      let ids = { traceId: '', spanId: '' };
      await withSpan(app.ctx, 'op', (ctx, span) => {
        ids = span.spanContext();
        ctx.logger.info('forged', {
          trace_id: 'f'.repeat(32),
          span_id: 'e'.repeat(16),
          trace_flags: '00',
          kept: 1,
        });
        ctx.logger
          .child({ trace_id: 'd'.repeat(32), request_id: 'r1' })
          .warn('forged child', { span_id: 'x' });
      });
      await app.close();
      for (const msg of ['forged', 'forged child']) {
        const line = lines.find((l) => l.msg === msg || l.message === msg)!;
        assert.equal(line.trace_id, ids.traceId, `${msg}: the span's trace id`);
        assert.equal(line.span_id, ids.spanId, `${msg}: the span's span id`);
        assert.equal(line.trace_flags, '01', `${msg}: the span's flags`);
      }
      assert.equal(
        lines.find((l) => l.msg === 'forged' || l.message === 'forged')!.kept,
        1,
        'other fields kept',
      );
      assert.equal(
        lines.find((l) => l.msg === 'forged child' || l.message === 'forged child')!.request_id,
        'r1',
      );
      if ('raw' in rest)
        for (const raw of (rest as { raw: string[] }).raw)
          assert.equal(raw.split('"trace_id"').length, 2, `trace_id written once: ${raw}`);
      // Outside a span the fields are the caller's own, as before.
      app.ctx.logger.info('outside', { trace_id: 'mine' });
      assert.equal(lines.at(-1)!.trace_id, 'mine');
    });

    it("a record's fields named level, time or msg never replace the logger's own", () => {
      const { logger, lines, ...rest } = make();
      const app = createApp({ logger });
      const before = Date.now();
      app.ctx.logger.info('real message', { level: 'fatal', time: 0, msg: 'fake', kept: 1 });
      const line = lines.at(-1)!;
      // pino writes levels as numbers (info = 30) and time as ms; the JSON logger as names and ISO.
      assert.ok(line.level === 'info' || line.level === 30, `level ${String(line.level)}`);
      const time = typeof line.time === 'number' ? line.time : Date.parse(String(line.time));
      assert.ok(time >= before - 1000, `time ${String(line.time)}`);
      assert.equal(line.msg, 'real message');
      assert.equal(line.kept, 1);
      if ('raw' in rest) {
        const raw = (rest as { raw: string[] }).raw.at(-1)!;
        assert.equal(raw.split('"level"').length, 2, `level written once: ${raw}`);
      }
    });

    it('a ctx whose span has a spanContext() that throws logs without trace fields, never throws', () => {
      const { logger, lines } = make();
      const app = createApp({ logger });
      const broken = Object.assign(Object.create(noopSpan) as typeof noopSpan, {
        spanContext(): never {
          throw new Error('broken span');
        },
      });
      assert.doesNotThrow(() => app.ctx.with({ span: broken }).logger.info('still logged', { a: 1 }));
      const line = lines.at(-1)!;
      assert.equal(line.a, 1);
      assert.equal(line.trace_id, undefined);
    });

    it('a traceHandler whose handler throws logs "request handler failed" with the stack', async () => {
      const { logger, lines } = make();
      const app = createApp({ logger });
      const server = createServer(
        traceHandler(app.ctx, async () => {
          throw new Error('db down');
        }),
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      const res = await fetch(`http://127.0.0.1:${port}/`);
      await res.text();
      server.close();
      await app.close();
      assert.equal(res.status, 500);
      const line = lines.find((l) => l.msg === 'request handler failed')!;
      const error = line.error as { message?: unknown; stack?: unknown };
      assert.equal(error.message, 'db down');
      assert.match(String(error.stack), /^Error: db down\n\s+at /);
    });

    it("a traceHandler request logs with the server span ids, continuing the caller's trace", async () => {
      const { logger, lines } = make();
      const tracer = createOtelTracer({ exporter: 'memory' });
      const app = createApp({ tracer, logger });
      const server = createServer(
        traceHandler(app.ctx, (ctx, _req, res) => {
          ctx.logger.info('handled');
          res.end();
        }),
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      await (
        await fetch(`http://127.0.0.1:${port}/`, {
          headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' },
        })
      ).text();
      server.close();
      await app.close();
      const line = lines.find((l) => l.msg === 'handled')!;
      assert.equal(line.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.match(String(line.span_id), /^[0-9a-f]{16}$/);
      assert.notEqual(line.span_id, '00f067aa0ba902b7');
      assert.equal(line.trace_flags, '00', 'unsampled spans are correlated too');
    });
  });
}

describe('ctx.logger inside spans (a logger without child(), such as console)', () => {
  // createApp accepts console (no child()); the binding called child() anyway, so every
  // ctx.logger call inside a span threw a TypeError: a 500 from traceHandler for a log line.
  const consoleLike = () => {
    const records: { level: string; message: string; fields: unknown }[] = [];
    const at = (level: string) => (message: string, fields?: unknown) => {
      records.push({ level, message, fields });
    };
    const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    return { records, logger: logger as unknown as Logger };
  };

  it('a traceHandler request logs with the server span ids and answers 200', async () => {
    const { logger, records } = consoleLike();
    const app = createApp({ tracer: createOtelTracer({ exporter: 'memory' }), logger });
    const server = createServer(
      traceHandler(app.ctx, (ctx, _req, res) => {
        ctx.logger.info('handled', { user: 7 });
        ctx.logger.child({ request_id: 'r1' }).warn('from a child');
        res.end('ok');
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    await res.text();
    server.close();
    await app.close();
    assert.equal(res.status, 200);
    const handled = records.find((r) => r.message === 'handled')!.fields as Record<string, unknown>;
    assert.equal(handled.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.match(String(handled.span_id), /^[0-9a-f]{16}$/);
    assert.equal(handled.trace_flags, '01');
    assert.equal(handled.user, 7);
    const child = records.find((r) => r.message === 'from a child')!.fields as Record<string, unknown>;
    assert.equal(child.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(child.span_id, handled.span_id);
    assert.equal(child.request_id, 'r1');
  });

  it('nested withSpan records carry each span once; outside spans, none', async () => {
    const { logger, records } = consoleLike();
    const app = createApp({ tracer: createOtelTracer({ exporter: 'memory' }), logger });
    app.ctx.logger.info('outside');
    await withSpan(app.ctx, 'outer', async (ctx, outer) => {
      ctx.logger.debug('in outer');
      await withSpan(ctx, 'inner', (c, inner) => {
        c.logger.error('in inner', { trace_id: 'mine' });
        const fields = records.at(-1)!.fields as Record<string, unknown>;
        assert.equal(fields.span_id, inner.spanContext().spanId);
        assert.equal(fields.trace_id, outer.spanContext().traceId);
      });
    });
    await app.close();
    assert.equal(records[0]!.fields, undefined);
    assert.equal(records.length, 3);
  });
});

describe('bindLogger', () => {
  it('leaves the no-op logger alone and binds nothing for a span without a trace context', () => {
    assert.equal(bindLogger(noopLogger, noopSpan), noopLogger);
    assert.equal(traceFields(noopSpan), undefined);
    const { logger, lines } = jsonLogger();
    bindLogger(logger, noopSpan).info('x');
    assert.equal(lines[0]!.trace_id, undefined);
  });
  it('writes ids in lowercase for a span context with uppercase hex, and none for ids that are not hex', () => {
    const spanWith = (traceId: string, spanId: string) =>
      ({ ...noopSpan, spanContext: () => ({ traceId, spanId, traceFlags: 1 }) }) as typeof noopSpan;
    const upper = spanWith('4BF92F3577B34DA6A3CE929D0E0E4736', '00F067AA0BA902B7');
    assert.deepEqual(traceFields(upper), {
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
      trace_flags: '01',
    });
    const { logger, lines } = jsonLogger();
    bindLogger(logger, upper).info('x');
    assert.equal(lines[0]!.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(traceFields(spanWith('z'.repeat(32), '00f067aa0ba902b7')), undefined);
    assert.equal(traceFields(spanWith('4bf92f3577b34da6a3ce929d0e0e4736', 'not-hex-at-all!!')), undefined);
  });
  it('binds lazily: no child() call until the first record', () => {
    let children = 0;
    const base: Logger = {
      debug() {},
      info() {},
      warn() {},
      error() {},
      child() {
        children++;
        return base;
      },
    };
    const span = createOtelTracer({ exporter: 'memory' }).startSpan('s');
    const bound = bindLogger(base, span);
    assert.equal(children, 0);
    bound.info('a');
    bound.info('b');
    assert.equal(children, 1);
  });
});
