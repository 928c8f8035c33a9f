/**
 * A JavaScript caller used to pino writes a log call fields first: `log.info({ orderId }, 'charging')`,
 * `log.error(err, 'failed')`, `log.error(err)`. Taken as written (message first), the record's
 * message read `[object Object]` and the fields were lost — the string went under `fields`, and
 * through a pino instance the object was dropped. Every logger the toolkit hands out (the console
 * logger, a pino instance or `console` through `createApp`, a span's `ctx.logger`, and a logger of
 * the user's own behind `ctx.logger`) takes such a call the way pino does.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import {
  createApp,
  createConsoleLogger,
  type LogFields,
  type Logger,
  withSpan,
} from '../../lib/core/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

type Line = Record<string, unknown>;

function pinoInto(lines: Line[]): Logger {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: 'debug' }, sink) as unknown as Logger;
}

function consoleInto(lines: Line[]): Logger {
  return createConsoleLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line)) });
}

/** A `console`-like logger without `child` (createApp gives it one): records as objects. */
function plainInto(lines: Line[]): Logger {
  const at = (level: string) => (message: unknown, fields?: unknown) =>
    lines.push({
      level,
      msg: message,
      ...(fields as object),
      // An Error has no own `message` to spread: the sink names it, as a real one would.
      ...(fields instanceof Error ? { error: { message: fields.message } } : {}),
    });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger;
}

/** The calls, as JavaScript makes them (TypeScript refuses fields first). */
function pinoOrder(log: Logger): void {
  const call = log as unknown as Record<'info' | 'warn' | 'error', (a: unknown, b?: unknown) => void>;
  call.info({ orderId: 42 }, 'charging');
  call.warn({ attempt: 3 });
  call.error(Object.assign(new Error('card declined'), { code: 'E_CARD' }), 'payment failed');
  call.error(new TypeError('bad total'));
  // Message first stays as it was.
  log.info('shipped', { orderId: 42 } as LogFields);
}

/** What each record says, whatever the logger's own layout of an error. */
function summary(line: Line) {
  const err = (line.err ?? line.error) as Record<string, unknown> | undefined;
  return {
    msg: line.msg ?? '',
    orderId: line.orderId,
    attempt: line.attempt,
    error: err === undefined ? undefined : String(err.message),
  };
}

const expected = [
  { msg: 'charging', orderId: 42, attempt: undefined, error: undefined },
  { msg: '', orderId: undefined, attempt: 3, error: undefined },
  { msg: 'payment failed', orderId: undefined, attempt: undefined, error: 'card declined' },
  { msg: 'bad total', orderId: undefined, attempt: undefined, error: 'bad total' },
  { msg: 'shipped', orderId: 42, attempt: undefined, error: undefined },
];

const makers = [
  ['createConsoleLogger', consoleInto],
  ['pino through createApp', (lines: Line[]) => createApp({ logger: pinoInto(lines) }).logger],
  [
    'a logger without child through createApp',
    (lines: Line[]) => createApp({ logger: plainInto(lines) }).logger,
  ],
] as const;

describe('pino-order log calls from JavaScript', () => {
  for (const [name, make] of makers) {
    it(`${name}: the object is the fields, the string the message`, () => {
      const lines: Line[] = [];
      const log = make(lines);
      pinoOrder(log);
      assert.deepEqual(lines.map(summary), expected, JSON.stringify(lines));
      // The error's own fields come along (its stack too, where the logger writes one).
      const failed = lines[2]!;
      const err = (failed.err ?? failed.error) as Record<string, unknown> | undefined;
      if (name !== 'a logger without child through createApp') {
        assert.equal(err?.code ?? failed.code, 'E_CARD', JSON.stringify(failed));
        assert.match(String(err?.stack), /card declined/);
      }
      assert.ok(!JSON.stringify(lines).includes('[object Object]'), JSON.stringify(lines));
    });

    it(`${name}: inside a span, the record carries the span's ids and the caller's fields`, async () => {
      const lines: Line[] = [];
      const tracer = createOtelTracer({ exporter: 'memory' });
      const app = createApp({ tracer, logger: make(lines) });
      try {
        let traceId = '';
        await withSpan(app.ctx, 'charge', (ctx, span) => {
          traceId = span.spanContext().traceId;
          pinoOrder(ctx.logger);
          // A trace_id of the caller's is the binding's (as for message-first calls).
          (ctx.logger as unknown as { info(a: unknown, b: string): void }).info({ trace_id: 'x' }, 'own id');
        });
        assert.deepEqual(lines.slice(0, 5).map(summary), expected, JSON.stringify(lines));
        for (const line of lines) assert.equal(line.trace_id, traceId, JSON.stringify(line));
      } finally {
        await app.close();
      }
    });
  }

  it("a logger of the user's own behind ctx.logger gets message first", async () => {
    const calls: unknown[][] = [];
    const at = (level: string) => (message: unknown, fields?: unknown) =>
      calls.push([level, message, fields]);
    const own: Logger = {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: () => own,
    };
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, logger: own });
    try {
      await withSpan(app.ctx, 'charge', (ctx) => {
        (ctx.logger as unknown as { info(a: unknown, b: string): void }).info({ orderId: 42 }, 'charging');
      });
      assert.deepEqual(calls, [['info', 'charging', { orderId: 42 }]]);
    } finally {
      await app.close();
    }
  });
});
