/**
 * The HTTP agent the OTLP exporter sends through (its public `httpAgentOptions` factory), so that
 * the tracer can let go of the collector when it closes:
 *
 * - `abort()` destroys every socket of the agent, in use or idle, with a non-retryable error, and
 *   makes later connection attempts fail at once: after `close()` no socket of ours keeps the event
 *   loop alive, whatever the collector does (refuses, never answers, answers late).
 * - Connection errors (refused, reset, unreachable, a connection closed before the answer…) are
 *   marked non-retryable for the exporter — on the socket and on the request. Its
 *   own retry loop waits on timers that are not unref'd (up to 5 s each) and cannot be cancelled,
 *   which would keep the process alive after close; a failed export is counted and logged by the
 *   tracer instead. The original code stays readable as `originalCode`.
 * - An answer asking for a retry (HTTP 429/502/503/504, with its `Retry-After`) is noted for the
 *   export attempt that `attempt()` runs, and the exporter is told to retry no sooner than after
 *   its whole deadline, so that it hands the failure back at once: the batch processor retries
 *   itself, on unref'd timers that close() cancels (batch.ts). The exporter's own wait (up to its
 *   export timeout with a long `Retry-After`) kept the process alive long after close().
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { Agent, ClientRequest, ClientRequestArgs, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** Network error codes the OTLP HTTP transport retries on its own (otlp-exporter-base). */
const RETRIED_BY_EXPORTER = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

/** Statuses the OTLP exporter retries (otlp-exporter-base `isExportHTTPErrorRetryable`). */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/**
 * `Retry-After` given to the exporter in place of the collector's on a retryable answer: longer
 * than any export deadline (about 31 years), so its retry loop gives up at once ("exceeds remaining
 * timeout") instead of waiting on a timer nobody can cancel.
 */
const NO_EXPORTER_RETRY = '999999999';

/** What one export attempt learned from the collector (set by the agent, read by batch.ts). */
export interface ExportAttempt {
  /** Cuts the requests of this attempt still open (set by `RequestTracker.attempt`). */
  cut?: (() => void) | undefined;
  /**
   * Settles the attempt as the exporter would have at the answer's end (set by batch.ts), for an
   * answer whose connection closed before its body was complete: the zipkin exporter reports only
   * from the body's `end`, which then never comes, and the export hung until its timeout (30 s).
   */
  cutShort?: ((status: number, error: Error) => void) | undefined;
  /**
   * The collector accepted the request but rejected some of its spans (an OTLP partial success:
   * HTTP 200 whose body names `rejected_spans`), which the exporter only reports to `diag` as a
   * success.
   */
  rejected?: { readonly spans: number; readonly message: string } | undefined;
  /**
   * The answer shows that nothing was delivered though the exporter reports a success (see
   * `undelivered()`): a redirect to a zipkin or jaeger export, or an HTML page for any exporter.
   * Also set on a redirect to an otlp export, which the exporter reports as a failure: batch.ts
   * then uses this message, which names the redirect target.
   */
  undelivered?: { readonly status: number; readonly message: string } | undefined;
  /**
   * A request of this attempt went out on a reused keep-alive socket that closed before any
   * answer (set by `RequestTracker.attempt`, zipkin and jaeger): the idle-close race node:http's
   * documentation says to retry, which batch.ts does (up to 5 times). The otlp exporter retries it itself.
   */
  staleSocket?: boolean | undefined;
  /** The collector answered with a status that asks for a retry. */
  retryable?:
    | {
        readonly status: number;
        /** Its `Retry-After`, ms (0: at once); `undefined` when absent or unreadable. */
        readonly retryAfterMs: number | undefined;
      }
    | undefined;
}

/**
 * Why an answer the exporter takes for a success delivered nothing, or `undefined`:
 * - a redirect (HTTP 3xx, e.g. an ingress sending http on to https; `redirects`: for zipkin and
 *   jaeger, which follow none and report any status under 400 as a success — otlp fails on it);
 * - a 2xx with an HTML page, which no trace collector sends: a web UI, typically Jaeger's
 *   UI/query port (16686), which answers 200 with its page to any POST. Every exporter reported
 *   it as a success.
 */
function undelivered(
  res: IncomingMessage,
  redirects: boolean,
): { status: number; message: string } | undefined {
  const status = res.statusCode ?? 0;
  if (redirects && status >= 300 && status < 400) {
    const to = shownLocation(res.headers.location);
    return {
      status,
      message:
        `collector answered HTTP ${status} (a redirect, which the exporter does not follow)` +
        (to ? ` to ${to}` : '') +
        '; spans not delivered: set the endpoint to the URL the collector redirects to',
    };
  }
  if (status >= 200 && status < 300 && /^\s*text\/html\b/i.test(String(res.headers['content-type'] ?? '')))
    return {
      status,
      message:
        `the endpoint answered HTTP ${status} with an HTML page (text/html), which no trace collector ` +
        'sends; spans not delivered: is it a web UI? (Jaeger: UI 16686; OTLP/HTTP 4318, Zipkin 9411, thrift 14268)',
    };
  return undefined;
}

/**
 * Where a redirect points, for the error message: scheme, host and path of an absolute URL (its
 * credentials and query, which may hold secrets, left out); `undefined` for anything else.
 */
function shownLocation(location: string | undefined): string | undefined {
  if (typeof location !== 'string') return undefined;
  try {
    const u = new URL(location);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return undefined;
  }
}

/** `Retry-After` as ms: delay-seconds or an HTTP date (RFC 9110 §10.2.3); `undefined` if neither. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, Number.MAX_SAFE_INTEGER);
  // An HTTP date names its weekday and month (`Date.parse` alone takes '-5' for a year).
  const at = /[a-z]/i.test(v) ? Date.parse(v) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const attempts = new AsyncLocalStorage<ExportAttempt>();

/** Code of the error export requests fail with once the tracer closed. */
export const EXPORT_ABANDONED = 'HYPERION_EXPORT_ABANDONED';
/** Code a connection error carries after relabelling (its own code is kept in `originalCode`). */
export const EXPORT_NETWORK_ERROR = 'HYPERION_EXPORT_NETWORK_ERROR';

export interface ExportAgents {
  /** For the OTLP exporter's `httpAgentOptions`: one keep-alive agent per protocol. */
  factory(protocol: string): Promise<Agent>;
  /** Destroys every socket with a non-retryable error; later connections fail at once. Idempotent. */
  abort(): void;
  /**
   * Runs `fn` (one export call) so that a retryable answer to the requests it makes is written
   * into `record` and never retried by the exporter itself (see the module comment).
   */
  attempt<T>(record: ExportAttempt, fn: () => T): T;
  /** Sockets currently open (tests). */
  readonly openSockets: number;
}

const abandoned = () =>
  Object.assign(new Error('span export abandoned: the tracer closed'), { code: EXPORT_ABANDONED });

/**
 * Gives a relabelled error its own code back (and drops `originalCode`), for an error handed to
 * the user (`flush()`'s causes): the exporter is done with it. An OTLP export to a collector that
 * was down failed with `code: 'HYPERION_EXPORT_NETWORK_ERROR'`, where the zipkin and jaeger
 * exporters' errors said `ECONNREFUSED`, as Node does.
 */
export function restoreOriginalCode(err: unknown): void {
  const e = err as { code?: unknown; originalCode?: unknown } | null;
  if (e === null || typeof e !== 'object' || e.code !== EXPORT_NETWORK_ERROR) return;
  if (typeof e.originalCode !== 'string') return;
  try {
    e.code = e.originalCode;
    delete e.originalCode;
  } catch {
    // a frozen error: left as it is
  }
}

function relabel(err: Error & { code?: unknown; originalCode?: unknown }) {
  if (typeof err?.code === 'string' && RETRIED_BY_EXPORTER.has(err.code)) {
    err.originalCode = err.code;
    err.code = EXPORT_NETWORK_ERROR;
  }
}

/** An answer whose connection closed before its body was complete (the status it had announced). */
function cutShortError(status: number): Error {
  return Object.assign(
    new Error(`collector answered HTTP ${status} and closed the connection before the answer was complete`),
    { code: 'ECONNRESET' },
  );
}

/** node:http's hand-over of a request to its agent: public in behaviour, absent from the types. */
interface AgentInternals {
  addRequest(req: ClientRequest, ...rest: unknown[]): unknown;
}

/** A success body larger than this is not read for a partial success (real ones are a few bytes). */
const MAX_SUCCESS_BODY = 64 * 1024;

/**
 * Reads the body of a 2xx answer alongside the exporter (listeners registered before its own,
 * so `record.rejected` is set before it reports the export) and notes an OTLP partial success.
 */
function notePartialSuccess(res: IncomingMessage, record: ExportAttempt): void {
  // A compressed answer is not decoded here (collectors answer these few bytes uncompressed).
  const encoding = res.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return;
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_SUCCESS_BODY) chunks.push(chunk);
  });
  res.on('end', () => {
    if (size === 0 || size > MAX_SUCCESS_BODY) return;
    const body = Buffer.concat(chunks);
    const json = /json/i.test(String(res.headers['content-type'] ?? ''));
    const rejected = json ? partialSuccessFromJson(body) : partialSuccessFromProtobuf(body);
    if (rejected && rejected.spans > 0) record.rejected = rejected;
  });
}

type Rejected = { spans: number; message: string };

/** `{ "partialSuccess": { "rejectedSpans": n, "errorMessage": … } }` (OTLP/JSON), else undefined. */
function partialSuccessFromJson(body: Buffer): Rejected | undefined {
  try {
    const p = (JSON.parse(body.toString('utf8')) as { partialSuccess?: Record<string, unknown> })
      ?.partialSuccess;
    const spans = Number(p?.rejectedSpans ?? 0);
    if (!(spans > 0) || !Number.isSafeInteger(spans)) return undefined;
    return { spans, message: typeof p?.errorMessage === 'string' ? p.errorMessage : '' };
  } catch {
    return undefined;
  }
}

/**
 * `ExportTraceServiceResponse` in protobuf: field 1 `partial_success` (a message) holding field 1
 * `rejected_spans` (varint) and field 2 `error_message` (string). Other fields are skipped;
 * anything malformed gives undefined.
 */
function partialSuccessFromProtobuf(buf: Buffer): Rejected | undefined {
  const fields = (data: Buffer, visit: (field: number, wire: number, value: number | Buffer) => void) => {
    let i = 0;
    const varint = (): number => {
      let n = 0;
      for (let shift = 0; shift < 64; shift += 7) {
        if (i >= data.length) throw new RangeError('truncated');
        const b = data[i++]!;
        n += (b & 0x7f) * 2 ** shift;
        if ((b & 0x80) === 0) return n;
      }
      throw new RangeError('varint too long');
    };
    while (i < data.length) {
      const key = varint();
      const wire = key % 8;
      const field = Math.floor(key / 8);
      if (wire === 0) visit(field, wire, varint());
      else if (wire === 2) {
        const len = varint();
        if (i + len > data.length) throw new RangeError('truncated');
        visit(field, wire, data.subarray(i, i + len));
        i += len;
      } else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else throw new RangeError('unsupported wire type');
    }
  };
  try {
    let out: Rejected | undefined;
    fields(buf, (field, wire, value) => {
      if (field !== 1 || wire !== 2) return;
      const r: Rejected = { spans: 0, message: '' };
      fields(value as Buffer, (f, w, v) => {
        if (f === 1 && w === 0) r.spans = v as number;
        else if (f === 2 && w === 2) r.message = (v as Buffer).toString('utf8');
      });
      out = r;
    });
    return out && out.spans > 0 && Number.isSafeInteger(out.spans) ? out : undefined;
  } catch {
    return undefined;
  }
}

/** `tls`: https agent options (private CA, mutual TLS) for `https:` endpoints (./tls.ts). */
export function createExportAgents(tls?: import('node:https').AgentOptions): ExportAgents {
  const agents = new Map<string, Promise<Agent>>();
  const sockets = new Set<Duplex>();
  let aborted = false;

  const build = async (protocol: string): Promise<Agent> => {
    // Loaded on first use (as the exporter's docs ask), so http instrumentation can patch it first.
    const mod = protocol === 'https:' ? await import('node:https') : await import('node:http');
    const agent: Agent = new mod.Agent({ keepAlive: true, ...(protocol === 'https:' ? tls : {}) });
    const create = agent.createConnection.bind(agent);
    agent.createConnection = (
      options: ClientRequestArgs,
      callback?: (err: Error | null, stream: Duplex) => void,
    ): Duplex | null | undefined => {
      if (aborted) {
        process.nextTick(() => callback?.(abandoned(), undefined as unknown as Duplex));
        return undefined;
      }
      const socket = create(options, callback);
      if (socket) {
        sockets.add(socket);
        socket.prependListener('error', relabel);
        socket.once('close', () => sockets.delete(socket));
      }
      return socket;
    };
    // A connection closed before the answer fails the *request* with 'socket hang up'
    // (ECONNRESET), which no socket 'error' event carries: relabel it on the request too, before
    // the exporter's listener sees it (`addRequest` is how node:http hands a request to its agent).
    // Not when the request went out on a reused keep-alive socket: that is the idle-close race
    // node's docs say to retry, and the exporter does.
    const addRequest = (agent as unknown as AgentInternals).addRequest.bind(agent);
    (agent as unknown as AgentInternals).addRequest = (req, ...rest) => {
      req.prependListener('error', (err: Error) => {
        if (!req.reusedSocket) relabel(err);
      });
      // Before the exporter's own 'response' listener, which reads the status at the end.
      const record = attempts.getStore();
      if (record)
        req.prependOnceListener('response', (res: IncomingMessage) => {
          const status = res.statusCode;
          if (status !== undefined && status >= 200 && status < 300) {
            const why = undelivered(res, false);
            if (why) {
              record.undelivered = why;
              return;
            }
            return notePartialSuccess(res, record);
          }
          // The exporter fails on a 3xx with the status text alone ("Temporary Redirect"): note
          // where it points (as zipkin's and jaeger's errors say), for batch.ts to name it.
          if (status !== undefined && status >= 300 && status < 400) {
            record.undelivered = undelivered(res, true);
            return;
          }
          // A refusal (4xx, 5xx) whose connection closes in the middle of its body: the exporter
          // failed the export with Node's bare "aborted". Settled first, with the error the zipkin
          // and jaeger exports give (the exporter's own report, from the same event, comes after).
          // A retryable status keeps its retry (below); its error names the status.
          if (status !== undefined && status >= 400 && !RETRYABLE_STATUS.has(status))
            res.prependListener('error', () => {
              if (!res.complete) record.cutShort?.(status, cutShortError(status));
            });
          if (status === undefined || !RETRYABLE_STATUS.has(status)) return;
          record.retryable = { status, retryAfterMs: parseRetryAfter(res.headers['retry-after']) };
          res.headers['retry-after'] = NO_EXPORTER_RETRY;
        });
      return addRequest(req, ...rest);
    };
    if (aborted) agent.destroy();
    return agent;
  };

  return {
    factory(protocol) {
      let agent = agents.get(protocol);
      if (!agent) {
        agent = build(protocol);
        agents.set(protocol, agent);
      }
      return agent;
    },
    abort() {
      if (aborted) return;
      aborted = true;
      for (const socket of sockets) socket.destroy(abandoned());
      sockets.clear();
      for (const agent of agents.values())
        agent.then(
          (a) => a.destroy(),
          () => {},
        );
    },
    attempt: (record, fn) => attempts.run(record, fn),
    get openSockets() {
      return sockets.size;
    },
  };
}

/**
 * For exporters that send with the global agent (zipkin): the HTTP requests started inside
 * `capture(fn)` (seen on the `http.client.request.start` diagnostics channel, which publishes a
 * moment later, hence the AsyncLocalStorage) are kept until they close, and `abort()` destroys
 * those still open — a collector that never answers then keeps no socket of ours alive.
 */
export interface RequestTracker {
  /** Runs `fn`, tracking the requests it starts (inside an `attempt`, that attempt's capture holds). */
  capture<T>(fn: () => T): T;
  /**
   * Runs one export call (`fn`) with its requests tracked apart too: `record.cut()` then destroys
   * those still open. These exporters set no timeout of their own, so an export the batch
   * processor gave up on (its timeout) used to leave its request open on a silent collector — one
   * more connection, and its payload, for every timed-out export until close.
   */
  attempt<T>(record: ExportAttempt, fn: () => T): T;
  abort(): void;
}

type Destroyable = {
  destroy(err?: Error): unknown;
  emit?(event: 'error', err: Error): unknown;
  listenerCount?(event: 'error'): number;
  once(event: 'close', fn: () => void): unknown;
  prependOnceListener?(event: 'response', fn: (res: IncomingMessage) => void): unknown;
  prependOnceListener?(event: 'error', fn: (err: Error) => void): unknown;
  /** node:http's `ClientRequest.reusedSocket`: sent on a kept-alive connection. */
  reusedSocket?: boolean;
};
interface Capture {
  /** The tracker this capture belongs to (a nested capture of the same tracker keeps the outer one). */
  readonly owner: object;
  add(req: Destroyable): void;
}
const exporting = new AsyncLocalStorage<Capture>();
let subscribed = false;

/**
 * `reportsAtBodyEnd`: the exporter reports an export only from its answer body's `end` (zipkin), so
 * an answer cut short leaves its send pending for good — and its `shutdown()`, which waits for
 * every send, with it: such a request is then failed (an `error` on it, which that exporter
 * reports from) once the attempt has been settled.
 */
export function createRequestTracker(
  options: { reportsAtBodyEnd?: boolean | undefined } = {},
): RequestTracker {
  const open = new Set<Destroyable>();
  let aborted = false;
  if (!subscribed) {
    subscribed = true;
    // Once per process; outside capture() there is no store and the subscriber does nothing.
    subscribe('http.client.request.start', (message) => {
      const req = (message as { request?: Destroyable }).request;
      if (req) exporting.getStore()?.add(req);
    });
  }
  const owner = {};
  const capture: Capture = {
    owner,
    add(req) {
      if (aborted) {
        req.destroy(abandoned());
        return;
      }
      open.add(req);
      req.once('close', () => open.delete(req));
    },
  };
  return {
    capture: (fn) => (exporting.getStore()?.owner === owner ? fn() : exporting.run(capture, fn)),
    attempt(record, fn) {
      const mine = new Set<Destroyable>();
      record.cut = () => {
        for (const req of mine)
          req.destroy(
            Object.assign(new Error('span export timed out: request cut'), { code: EXPORT_ABANDONED }),
          );
        mine.clear();
      };
      return exporting.run(
        {
          owner,
          add(req) {
            capture.add(req);
            if (aborted) return;
            mine.add(req);
            req.once('close', () => mine.delete(req));
            let answered = false;
            // A reused keep-alive socket the collector had just closed (its idle timeout, a proxy's)
            // fails the request with 'socket hang up' before any answer: neither exporter retries,
            // and every export that met the race was lost. Noted for batch.ts to send it again.
            req.prependOnceListener?.('error', () => {
              if (!answered && req.reusedSocket === true && !aborted) record.staleSocket = true;
            });
            // Before the exporter's own listener, which reports the result from it (jaeger) or
            // from the body's end (zipkin).
            req.prependOnceListener?.('response', (res) => {
              answered = true;
              const why = undelivered(res, true);
              if (why) record.undelivered = why;
              // A collector (or a proxy) closing the connection in the middle of its answer: the
              // zipkin exporter waited for an `end` that never came, holding the export (and
              // flush()) until the export timeout, then counting it as timed out.
              res.once('close', () => {
                if (res.complete) return;
                const status = res.statusCode ?? 0;
                const error = cutShortError(status);
                record.cutShort?.(status, error);
                // Only to a request something listens on for errors (an unheard one would throw).
                if (options.reportsAtBodyEnd && (req.listenerCount?.('error') ?? 0) > 0)
                  req.emit?.('error', error);
              });
            });
          },
        },
        fn,
      );
    },
    abort() {
      aborted = true;
      for (const req of open) req.destroy(abandoned());
      open.clear();
    },
  };
}
