/**
 * The `/metrics` endpoint: `handler` serves the exposition inside any `node:http` server, and
 * `listen()` starts the adapter's own server on `host:port` serving `path` (one server however
 * often it is called).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { gzip, constants as zlibConstants } from 'node:zlib';
import type { Logger } from '../../core/contracts.js';
import { MetricsError } from '../../core/errors.js';
import { readBindHost } from '../../core/host.js';
import { MAX_TIMER_MS } from '../../core/options.js';
import { requireAuth } from './auth.js';
import { negotiate } from './exposition.js';
import type { MetricsAddress } from './types.js';

export interface EndpointOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** Expected `Authorization` header (bearer or basic), if any: others get 401. */
  readonly authorization?: string | undefined;
  /** HTTPS for `listen()`'s server (with `ca`: client certificates required). */
  readonly tls?: SecureContextOptions | undefined;
  /**
   * Runs the collect callbacks and renders the exposition for an Accept header; `budgetMs`, when
   * given, shortens the collection's bound (`collectTimeoutMs`) for a collection it starts.
   */
  render(accept?: string, budgetMs?: number): Promise<{ contentType: string; body: string }>;
  readonly logger: Pick<Logger, 'warn'>;
  /** Longest wait of `close()` for scrapes in progress, ms; then their connections are cut. */
  readonly closeGraceMs: number;
}

export interface Endpoint {
  /** Serves the exposition inside the user's server; after `close()`, 503 without rendering. */
  handler(req: IncomingMessage, res: ServerResponse): void;
  listen(): Promise<MetricsAddress>;
  /** The bound address while listening; `undefined` before `listen()` resolved and after `close()`. */
  readonly address: MetricsAddress | undefined;
  /**
   * Stops the server: no new connections, idle ones closed at once, scrapes in progress finish
   * (up to `graceMs`, default `closeGraceMs`, then cut; at once when `signal` aborts). Later
   * `listen()` calls reject.
   */
  close(graceMs?: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Whether an `Accept-Encoding` header accepts gzip: `gzip` (or `x-gzip`), else `*`, with a q-value
 * above 0 (RFC 9110 12.5.3). Prometheus sends `Accept-Encoding: gzip` on every scrape.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let gz: number | undefined;
  let any: number | undefined;
  for (const range of header.split(',')) {
    const [coding = '', ...params] = range.split(';');
    const name = coding.trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k?.trim().toLowerCase() === 'q') q = Number(v);
    }
    if (!Number.isFinite(q)) q = 0;
    if (name === 'gzip' || name === 'x-gzip') gz = Math.max(gz ?? 0, q);
    else if (name === '*') any = Math.max(any ?? 0, q);
  }
  return (gz ?? any ?? 0) > 0;
}

/**
 * How long a scrape's collection may take, in ms, from the timeout the scraper announces:
 * Prometheus sends `X-Prometheus-Scrape-Timeout-Seconds` on every scrape (its `scrape_timeout`:
 * unless set, 10 s, or the `scrape_interval` when that is shorter). A quarter of it, at most 500 ms,
 * is kept for rendering and sending. `undefined` without a usable header (curl, other scrapers):
 * `collectTimeoutMs` alone bounds the collection. Without it, a hanging `onCollect` callback held
 * every scrape `collectTimeoutMs` (5 s by default): with `scrape_interval: 5s` or less, Prometheus
 * gave up first and the target was down, every series lost, though the callback is skipped to
 * keep the scrape answering.
 */
export function scrapeBudgetMs(header: string | string[] | undefined): number | undefined {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  const ms = Math.max(seconds * 1000, MIN_SCRAPE_TIMEOUT_MS);
  return ms - Math.min(500, ms / 4);
}

/**
 * The shortest scrape timeout the header is taken at: a shorter one counts as 100 ms (a 75 ms
 * collection). No Prometheus scrapes that fast; the header is anyone's to send, and
 * `X-Prometheus-Scrape-Timeout-Seconds: 0.000001` had every async `onCollect` callback time out
 * (skipped, and warned about) on every request.
 */
const MIN_SCRAPE_TIMEOUT_MS = 100;

/** Bodies shorter than this go out uncompressed (gzip's header alone is 18 bytes). */
const GZIP_MIN_BYTES = 1024;

/** gzip at level 1: most of the gain on this repetitive text, for a fraction of the CPU. */
const gzipAsync = (body: string) =>
  new Promise<Buffer>((resolve, reject) =>
    gzip(body, { level: zlibConstants.Z_BEST_SPEED }, (err, out) => (err ? reject(err) : resolve(out))),
  );

interface Answer {
  readonly contentType: string;
  readonly body: string | Buffer;
  readonly zipped: boolean;
}

/**
 * Serves the exposition on GET and HEAD (gzip-compressed when the scraper accepts it); 405 for
 * other methods, 500 (logged) when rendering fails. A scrape arriving while the answer for the
 * same format and compression is being made (its collection, rendering or gzip) gets that
 * answer: every scrape used to render (and gzip) the exposition itself, so 50 scrapes of an
 * 8 MB exposition arriving together held the event loop for 10 s and the last ones were cut.
 */
function exposeHandler(
  render: EndpointOptions['render'],
  logger: EndpointOptions['logger'],
  ownServer: (res: ServerResponse) => boolean,
): (req: IncomingMessage, res: ServerResponse) => void {
  /** Answers being made, by format and compression, with the time their scraper gives up by. */
  const inProgress = new Map<string, { p: Promise<Answer>; deadline: number }>();
  const answer = (accept: string | undefined, gz: boolean, budgetMs: number | undefined): Promise<Answer> => {
    // Keyed by the format the Accept header negotiates, not by the header's text: 50 scrapes
    // whose Accept headers differ (q-values, parameters, clients) but all ask for one format were
    // rendered 50 times, as every scrape used to be.
    const key = `${gz ? 'gzip' : 'identity'}\n${negotiate(accept)}`;
    const deadline = performance.now() + (budgetMs ?? Number.POSITIVE_INFINITY);
    const make = () =>
      render(accept, budgetMs).then(async ({ contentType, body }) => {
        const zipped = gz && body.length >= GZIP_MIN_BYTES ? await gzipAsync(body) : undefined;
        return { contentType, body: zipped ?? body, zipped: zipped !== undefined };
      });
    const current = inProgress.get(key);
    // A scraper that gives up sooner than the one the answer is made for (Prometheus with a 1 s
    // timeout arriving during curl's scrape) gets an answer made within its own budget, which the
    // scrapes after it share: joined, it waited for the other's whole collection and saw the
    // target down.
    if (current !== undefined && deadline >= current.deadline) return current.p;
    const p = make();
    const entry = { p, deadline };
    inProgress.set(key, entry);
    const done = () => {
      if (inProgress.get(key) === entry) inProgress.delete(key);
    };
    p.then(done, done);
    return p;
  };
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const gz = acceptsGzip(req.headers['accept-encoding'] as string | undefined);
    const budget = scrapeBudgetMs(req.headers['x-prometheus-scrape-timeout-seconds']);
    answer(req.headers.accept, gz, budget).then(
      ({ contentType, body, zipped }) => {
        // Answered meanwhile by the server the handler is mounted in (its own request timeout,
        // say): writeHead would throw here, an unhandled rejection that ends the process.
        if (res.headersSent || res.writableEnded) return;
        res.writeHead(200, {
          'content-type': contentType,
          'content-length': Buffer.byteLength(body),
          // The body depends on both: the format (Accept) and the compression (Accept-Encoding).
          vary: 'Accept, Accept-Encoding',
          ...(zipped ? { 'content-encoding': 'gzip' } : {}),
        });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        if (ownServer(res)) {
          cutWhenStalled(req, res);
          sendInPieces(res, typeof body === 'string' ? Buffer.from(body) : body);
          return;
        }
        // Ended once the body is handed to the connection's socket: an ended response counts as
        // done for node:http, whose closeIdleConnections() (run by `close()`, and by the server's
        // own `close()`) destroys its connection while the body may still wait to be written —
        // a large exposition to a scraper reading slower than we write was cut off (3.9 of
        // 11.4 MB), though close() promises a scrape in progress its answer within the bound.
        // Middleware of the server the handler is mounted in may have replaced `res.write` with
        // one that drops the callback (a deflate/br compressor takes `(chunk, encoding)`): the
        // response would never end. There the body goes with `end`, as before.
        if (Object.hasOwn(res, 'write') || Object.hasOwn(res, 'end')) {
          res.end(body);
          return;
        }
        res.write(body, (err) => {
          if (err === undefined || err === null) res.end();
        });
      },
      (err: unknown) => {
        logger.warn('rendering metrics failed', { error: err });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics rendering failed\n');
      },
    );
  };
}

/**
 * A scrape is a GET without a body: its request must have arrived within 10 s (Prometheus's
 * default scrape timeout), else 408 and the connection closes; checked every second. Node's
 * defaults (60 s for the headers, checked every 30 s) let a client that connects and sends
 * nothing hold a connection for a minute and more.
 */
export const SLOW_CLIENT_LIMITS = {
  headersTimeout: 10_000,
  requestTimeout: 10_000,
  connectionsCheckingInterval: 1000,
} as const;

/**
 * How long `listen()`'s server waits while a scraper takes none of its answer: then the
 * connection is cut. A scraper that reads, however slowly, makes progress and is not cut.
 */
export const SEND_STALL_MS = 10_000;

/**
 * Cuts `res`'s connection once its body has made no progress for `SEND_STALL_MS` (the socket's
 * inactivity timeout, which each piece of the body written counts as activity: `sendInPieces`).
 * A client that sent a scrape and never read the answer held its connection, and the rest of the
 * body, until close():
 * 30 such connections to an 11 MB exposition held about 1 GB. Once the answer is written in full
 * the timeout is lifted (unless node:http has set its keep-alive timeout meanwhile), so a
 * pipelined scrape waiting on a slow collection behind it is not cut.
 */
function cutWhenStalled(req: IncomingMessage, res: ServerResponse): void {
  res.setTimeout(SEND_STALL_MS, () => res.destroy());
  // The request's socket: node:http detaches the response's when it finishes (and a pipelined
  // response waiting its turn has none yet).
  const socket = req.socket;
  const own = () => stallTimed.set(socket, res);
  if (res.socket) own();
  else res.once('socket', own);
  res.once('finish', () => {
    // A pipelined scrape behind this one, handed the socket as this answer finished, has set its
    // own stall timer on it: lifting it let a scraper that read the first answer and then stopped
    // hold the connection and the second body until close().
    if (stallTimed.get(socket) !== res) return;
    stallTimed.delete(socket);
    if (socket.timeout === SEND_STALL_MS) socket.setTimeout(0);
  });
}

/**
 * Writes `body` to `res` in pieces of `SEND_PIECE_BYTES`, each once the one before it was handed
 * to the socket, then ends `res` (ended once the body is handed over, as below). Each piece
 * written is progress the stall timer sees: written whole, the body was one write that showed
 * little or no progress before its end (over HTTPS none), so a scraper reading slowly (~150 KB/s
 * over HTTPS, ~110 KB/s over HTTP, on loopback) was cut after 10 s as if it read nothing.
 */
function sendInPieces(res: ServerResponse, body: Buffer): void {
  let at = 0;
  const next = (err?: Error | null) => {
    if (err !== undefined && err !== null) return;
    if (at >= body.length) {
      res.end();
      return;
    }
    const piece = body.subarray(at, at + SEND_PIECE_BYTES);
    at += piece.length;
    res.write(piece, next);
  };
  next();
}

/** The size of the pieces `listen()`'s server writes an exposition in. */
const SEND_PIECE_BYTES = 64 * 1024;

/** The response whose stall timer a connection's socket carries. */
const stallTimed = new WeakMap<object, ServerResponse>();

export function createEndpoint(o: EndpointOptions): Endpoint {
  const { host, port, path, render, logger, tls } = o;
  // Judged by the address, not the text (lib/core/host.ts); `host` was checked by resolveOptions.
  const read = readBindHost(host);
  const judged = typeof read === 'string' ? { shown: host, loopback: false } : read;
  let closed = false;
  let server: Server | undefined;
  let listening: Promise<MetricsAddress> | undefined;
  let address: MetricsAddress | undefined;
  /** Rejects the `listen()` still binding, if any (close() settles it rather than leave it pending). */
  let abortListen: ((err: Error) => void) | undefined;
  /** Responses of `listen()`'s server not finished yet (scrapes in progress). */
  const inFlight = new Set<ServerResponse>();
  /** Open TCP connections of `listen()`'s server (HTTPS: from before their handshake). */
  const sockets = new Set<Socket>();
  /** Cuts every connection of `srv`: the HTTP ones and those still in their TLS handshake. */
  const cutAll = (srv: Server) => {
    srv.closeAllConnections();
    for (const socket of sockets) socket.destroy();
  };
  /** Called when a scrape finishes while `close()` waits for them. */
  let onIdle: (() => void) | undefined;

  // A scrape of `listen()`'s server is cut when its answer stalls; a mounted handler runs under the user's server's limits.
  const handler = requireAuth(
    o.authorization,
    exposeHandler(render, logger, (res) => inFlight.has(res)),
  );

  /**
   * A scraper refused at the TLS handshake — a client certificate that is expired or not signed
   * by `tls.ca`, or a scraper speaking plain HTTP to the HTTPS endpoint — was dropped without a
   * word on our side, and Prometheus reports only `EOF`: nobody could tell why the target was
   * down. Logged, at most once a minute per reason (with how many were not logged). Connections
   * that only reset or time out (TCP health checks) are left out, and so is what close() cut.
   */
  const handshakeWarned = new Map<string, { at: number; suppressed: number }>();
  /**
   * Each TCP connection's remote address, taken when it arrives: a TLS socket whose client
   * certificate was refused is already destroyed when the error is reported, and its
   * `remoteAddress` reads undefined then. Node's TLS socket keeps its TCP socket as `_parent`.
   */
  const peers = new WeakMap<Socket, string | undefined>();
  const peerOf = (socket: TLSSocket): string | undefined => {
    const tcp = (socket as { _parent?: unknown })._parent;
    return socket.remoteAddress ?? (tcp instanceof Socket ? peers.get(tcp) : undefined);
  };
  const handshakeFailed = (err: Error & { code?: unknown }, socket: TLSSocket) => {
    if (closed) return;
    // Node's verification code (`CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, …), or null.
    const refused = (socket as { authorizationError?: unknown }).authorizationError ?? undefined;
    const code = typeof err.code === 'string' ? err.code : '';
    if (refused === undefined && !code.startsWith('ERR_SSL_')) return;
    const reason = refused !== undefined ? String(refused) : code;
    const now = performance.now();
    const seen = handshakeWarned.get(reason);
    if (seen && now - seen.at < 60_000) {
      seen.suppressed++;
      return;
    }
    if (handshakeWarned.size >= 100) handshakeWarned.clear();
    handshakeWarned.set(reason, { at: now, suppressed: 0 });
    logger.warn(
      refused !== undefined
        ? `metrics endpoint: a scraper's client certificate was refused (${reason})`
        : `metrics endpoint: a scraper's TLS handshake failed (${reason})`,
      { reason, remoteAddress: peerOf(socket), suppressed: seen?.suppressed ?? 0 },
    );
  };

  const start = (resolve: (a: MetricsAddress) => void, reject: (e: Error) => void) => {
    abortListen = reject;
    const route = (req: IncomingMessage, res: ServerResponse) => {
      inFlight.add(res);
      res.once('close', () => {
        inFlight.delete(res);
        if (inFlight.size === 0) onIdle?.();
      });
      // A request arriving on a kept-alive connection while closing is served, then the connection ends.
      if (closed) res.setHeader('connection', 'close');
      let url = req.url ?? '/';
      // An absolute-form target (GET http://host/metrics), which a server must accept (RFC 9112 3.2.2).
      if (!url.startsWith('/')) {
        try {
          url = new URL(url).pathname;
        } catch {
          // not a URL: matches no path, 404
        }
      }
      const q = url.indexOf('?');
      if ((q === -1 ? url : url.slice(0, q)) === path) handler(req, res);
      else res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; metrics are at ${path}\n`);
    };
    const srv: Server = tls
      ? createHttpsServer(
          {
            ...tls,
            ...SLOW_CLIENT_LIMITS,
            // A connection that never completes its TLS handshake is not an HTTP connection yet
            // (no 408 possible): dropped after the same 10 s instead of tls's default 120 s.
            handshakeTimeout: SLOW_CLIENT_LIMITS.headersTimeout,
            requestCert: tls.ca !== undefined,
            rejectUnauthorized: tls.ca !== undefined,
          },
          route,
        )
      : createServer(SLOW_CLIENT_LIMITS, route);
    if (tls) srv.on('tlsClientError', (err: Error, socket: TLSSocket) => handshakeFailed(err, socket));
    // CONNECT (a proxy tunnel request) never reaches `route`: node:http hands it to 'connect'
    // listeners and, with none, destroys the connection — the client got no answer at all, where
    // every other method than GET and HEAD gets its 405.
    srv.on('connect', (_req: IncomingMessage, socket: Duplex) => {
      socket.on('error', () => {});
      const body = 'method not allowed\n';
      socket.end(
        'HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Type: text/plain\r\n' +
          `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    // Every TCP connection, also one still in its TLS handshake, which node:http does not list
    // (closeAllConnections() left it open, and close() waited for it).
    srv.on('connection', (socket: Socket) => {
      sockets.add(socket);
      peers.set(socket, socket.remoteAddress);
      socket.once('close', () => sockets.delete(socket));
    });
    // Named by what is missing: with auth alone it said "without auth and TLS" too, as if the
    // credentials given were not in use.
    if (!judged.loopback && (o.authorization === undefined || !tls))
      logger.warn(
        o.authorization !== undefined
          ? 'metrics endpoint listens beyond loopback without TLS: its credentials and metrics go unencrypted'
          : tls
            ? 'metrics endpoint listens beyond loopback without auth: anyone who reaches it can scrape it'
            : 'metrics endpoint listens beyond loopback without auth and TLS',
        {
          host,
          auth: o.authorization !== undefined,
          tls: tls !== undefined,
        },
      );
    server = srv;
    const failedToListen = (err: Error) => {
      abortListen = undefined;
      server = undefined;
      listening = undefined;
      reject(
        new MetricsError(
          'listen_failed',
          `metrics endpoint could not listen on ${host}:${port}: ${err.message}`,
          {
            cause: err,
          },
        ),
      );
    };
    srv.once('error', failedToListen);
    // `exclusive`: in a node:cluster worker, a plain listen() shares the primary's handle, so
    // every worker "listened" on the same port (port 0 included) and scrapes went round-robin,
    // each answered by another worker's counters. Now each worker binds its own socket: a fixed
    // port taken by another worker is `listen_failed`, port 0 a free port per worker.
    srv.listen({ port, host, exclusive: true }, () => {
      abortListen = undefined;
      // Once listening, an error (accept failing with EMFILE, say) is logged; the server stays
      // ours to close, and the event never goes unhandled.
      srv.off('error', failedToListen);
      srv.on('error', (err) => logger.warn('metrics endpoint: server error', { error: err }));
      if (closed) {
        srv.close();
        reject(new MetricsError('closed', 'metrics adapter was closed while its endpoint was starting'));
        return;
      }
      const a = srv.address();
      const bound = typeof a === 'object' && a ? a.port : port;
      const scheme = tls ? 'https' : 'http';
      address = Object.freeze({ host, port: bound, url: `${scheme}://${judged.shown}:${bound}${path}` });
      resolve(address);
    });
  };

  /**
   * The handler mounted in the user's server: once the adapter is closed, 503 (with `Retry-After`)
   * without rendering. Before, it went on serving the frozen values of a
   * closed adapter with 200, its collect callbacks gone, so a scraper could not tell.
   */
  const mounted = (req: IncomingMessage, res: ServerResponse) => {
    if (!closed) return handler(req, res);
    res
      .writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' })
      .end('metrics adapter is closed\n');
  };

  return {
    handler: mounted,
    listen() {
      if (closed) return Promise.reject(new MetricsError('closed', 'metrics adapter is closed'));
      listening ??= new Promise<MetricsAddress>(start);
      return listening;
    },
    get address() {
      return address;
    },
    async close(graceMs = o.closeGraceMs, signal?: AbortSignal) {
      closed = true;
      abortListen?.(new MetricsError('closed', 'metrics adapter was closed while its endpoint was starting'));
      abortListen = undefined;
      address = undefined;
      const srv = server;
      server = undefined;
      if (!srv) return;
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        /** The budget is spent (the grace ran out, or the caller's signal aborted): cut what is left. */
        const cut = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', cut);
          onIdle = undefined;
          if (inFlight.size > 0)
            logger.warn('metrics endpoint: scrapes still running at close were cut', {
              scrapes: inFlight.size,
              closeGraceMs: graceMs,
              aborted: signal?.aborted === true,
            });
          cutAll(srv);
        };
        // Stops accepting, and closes the connections with no request in progress.
        srv.close(() => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', cut);
          onIdle = undefined;
          resolve();
        });
        srv.closeIdleConnections();
        if (inFlight.size === 0) return cutAll(srv);
        if (signal?.aborted || graceMs <= 0) return cut();
        // A scrape in progress (a slow collect callback) gets its answer, within the bound, and
        // its connection ends after it.
        for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
        // The bound holds for every connection, not only the scrapes: one whose request is still
        // arriving (half its headers) is not idle, and closing the server stopped Node's 408
        // check, so without it close() waited for that client for good.
        timer = setTimeout(cut, Math.min(graceMs, MAX_TIMER_MS));
        timer.unref();
        signal?.addEventListener('abort', cut, { once: true });
        onIdle = () => {
          onIdle = undefined;
          // Connections whose response went out before close() began are idle now: end them
          // (closing, not cutting: a response still being flushed is not lost).
          setImmediate(() => srv.closeIdleConnections());
        };
      });
    },
  };
}
