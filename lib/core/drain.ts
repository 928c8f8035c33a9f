/**
 * `drainServer(server)`: the disposer every `createApp` user with a `node:http` server needs.
 * Registered after the other components (`app.defer('http', drainServer(server))`), it runs first
 * on close, and the database pool, caches, metrics and tracer close only after the last handler:
 *
 * 1. new requests are no longer served; the listening socket closes once the running requests are
 *    done and the connections the kernel had already queued are accepted (`lingerMs`); idle
 *    keep-alive connections are closed after `quietMs` (a request already on its way gets its 503)
 *    and a connection that has not sent its first request yet gets a moment too;
 * 2. requests already running finish (the last response of each connection carries
 *    `Connection: close`);
 * 3. a request arriving after the stop began, on a connection that is still open, is answered
 *    `503` with `Connection: close` and `Retry-After` (never a reset) — upgrade (WebSocket) and
 *    CONNECT requests too, when the server has `upgrade`/`connect` listeners; a `traceHandler` or
 *    `metrics.instrument` listener records it (server span, request metric: refusal.ts);
 * 4. after `graceMs` (capped by the disposer's budget) the remaining connections are cut.
 *
 * Only `node:` builtins are used: the core imports no package.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2Server, Http2Session } from 'node:http2';
import { Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket, Server as TlsServer } from 'node:tls';
import type { LogFields, LoggerLike } from './contracts.js';
import type { DisposeInfo } from './disposers.js';
import { type DrainOptions, resolveDrainOptions } from './drain-options.js';
import { adaptLogger, dropLogResult } from './log-binding.js';
import { isRefusalAware, markRefused } from './refusal.js';
import { onResponseClose } from './response-close.js';
import { noteShutdownCut } from './response-error.js';

export type { DrainOptions } from './drain-options.js';

/**
 * Stops the interval with which a `node:http` server checks its connections' header and request
 * timeouts. http's own `close()` stops it; the drain closes the listener through net's `close()`
 * (see `closeListener`), which does not, so the interval (unref'd) ran for the rest of the process,
 * holding the server and, through its request listener, whatever the handler reaches — the app,
 * its tracer, caches and metrics: ~0.1–0.2 MB kept per `createApp`/`close()` cycle in a process
 * that builds apps repeatedly (workers, tests, reloads). Node keeps it under an internal symbol,
 * found by its description; an HTTP/2 server has none.
 */
function stopConnectionsCheck(server: object): void {
  for (const key of Object.getOwnPropertySymbols(server))
    if (key.description === 'http.server.connectionsCheckingInterval')
      clearInterval((server as Record<symbol, NodeJS.Timeout | undefined>)[key]);
}

/** A disposer that drains `server`, plus what it is doing (for logs and tests). */
export interface ServerDrain {
  (info?: Partial<DisposeInfo>): Promise<void>;
  /** Requests whose response has not finished yet. */
  readonly inFlight: number;
  /** True once the drain started. */
  readonly draining: boolean;
}

/** Fraction of the disposer budget the grace period may use; the rest is for cutting and closing. */
const BUDGET_SHARE = 0.8;

/** How long a connection that has not sent a request yet is left open once the drain began, ms. */
const FRESH_CONNECTION_MS = 2000;

/** How long a client may keep its side of a connection open after ours was ended, ms. */
const HALF_OPEN_MS = 1000;

/** Longest wait, once the grace period's cut destroyed the connections, for them to close, ms. */
const CUT_CLOSE_MS = 1000;

/**
 * Bounds of the request body read and thrown away before a 503 is written: a connection closed
 * with body bytes unread is reset, and a client that sends its whole body before reading the
 * answer (Python's http.client, many SDKs) got the reset (broken pipe) instead of the 503. Past
 * either bound the 503 goes out at once and the connection closes; such a client may then still
 * see a reset.
 */
export const REFUSED_BODY_MAX_BYTES = 4 * 1024 * 1024;
export const REFUSED_BODY_MAX_MS = 2000;

/**
 * A response of node:http2's compatibility API: HTTP/2 has no `Connection` header (Node drops it
 * with an `UnsupportedWarning`); its connection is closed by a GOAWAY on the session instead.
 */
const isHttp2 = (res: ServerResponse): boolean =>
  (res as { req?: IncomingMessage }).req?.httpVersionMajor === 2;

/**
 * Calls `then` once the body of `req` has been read to its end and thrown away, or when more than
 * `REFUSED_BODY_MAX_BYTES` came, or after `REFUSED_BODY_MAX_MS`, or when the request is gone.
 * At once for a request whose body is complete (every request without one).
 */
function afterBody(req: IncomingMessage, then: () => void): void {
  if (req.complete || req.destroyed) {
    then();
    return;
  }
  let bytes = 0;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', finish);
    req.off('close', finish);
    req.off('error', finish);
    then();
  };
  const onData = (chunk: Buffer | string) => {
    bytes += chunk.length;
    if (bytes > REFUSED_BODY_MAX_BYTES) finish();
  };
  const timer = setTimeout(finish, REFUSED_BODY_MAX_MS);
  timer.unref();
  req.on('data', onData);
  req.once('end', finish);
  req.once('close', finish);
  req.once('error', finish);
  req.resume();
}

/**
 * The drain's `logger`, made safe to call. It logs from a request listener (admit threw), from the
 * drain's own promise and from its timers: a logger that threw (a closed destination) made
 * `app.close()` reject with the listening socket left open, answering 503 and keeping the process
 * alive, or was an uncaught exception mid-shutdown. A record that cannot be written is dropped.
 * A pino instance takes fields first (adaptLogger): given as it is, records lost their fields.
 */
function drainLogger(logger: DrainOptions['logger']): { info: LogAt; warn: LogAt } {
  const target = logger == null ? undefined : adaptLogger(logger as LoggerLike);
  const at =
    (level: 'info' | 'warn'): LogAt =>
    (message, fields) => {
      try {
        dropLogResult(target?.[level](message, fields));
      } catch {
        // the drain goes on
      }
    };
  return { info: at('info'), warn: at('warn') };
}

type LogAt = (message: string, fields?: LogFields) => void;

/**
 * Wraps the `request` listeners `server` has now (attach the handler first: `createServer(handler)`
 * does) and returns the draining disposer. Resolves when every connection is closed; never rejects.
 * A bad option (unknown key, a time outside 0 … 2^31 − 1 ms, a fractional `retryAfterSeconds`, an
 * `admit` or `logger` of the wrong type) is a `ConfigError` here, not a surprise during shutdown.
 */
export function drainServer(
  httpServer: Server | Http2Server | Http2SecureServer,
  options: DrainOptions = {},
): ServerDrain {
  // An HTTP/2 server (its compatibility API) has the same events and `request` listeners.
  const server = httpServer as Server;
  const { graceMs, lingerMs, quietMs, retryAfter } = resolveDrainOptions(server, options);
  const log = drainLogger(options.logger);
  /**
   * Every open connection: responses pending on it, whether it has carried a request yet, and its
   * latest response (the last one it will send: HTTP/1.1 pipelining answers in order).
   */
  const connections = new Map<
    Socket,
    { pending: number; used: boolean; owned?: boolean; last?: ServerResponse }
  >();
  const responses = new Set<ServerResponse>();
  let draining = false;
  let running: Promise<void> | undefined;
  let onChange: (() => void) | undefined;

  const track = (socket: Socket) => {
    let c = connections.get(socket);
    if (!c) {
      c = { pending: 0, used: false };
      connections.set(socket, c);
      socket.once('close', () => {
        connections.delete(socket);
        onChange?.();
      });
    }
    return c;
  };
  /** Ends a connection with nothing pending on it (after Node had a turn to queue a pipelined request). */
  const endIfIdle = (socket: Socket) =>
    setImmediate(() => {
      const c = connections.get(socket);
      // A connection owned by something else — an upgrade listener (WebSocket, CONNECT tunnel),
      // an HTTP/2 session — is not idle: it runs until its owner closes it, or the grace
      // period's cut.
      if (!c || c.pending > 0 || c.owned || socket.destroyed) return;
      socket.end();
      // A client that keeps its side open after our FIN (half-open: some proxies, raw TCP checks)
      // would hold the drain until the grace period ends. Nothing more can be said on this
      // connection, so once our FIN is out and nothing came, it is closed for good.
      setTimeout(() => {
        if (!socket.destroyed && c.pending === 0 && socket.writableFinished) socket.destroy();
      }, HALF_OPEN_MS).unref();
    });

  /**
   * `options.admit(req)`, where a throw counts as "no": it threw inside the `request` (or
   * `upgrade`) listener, an uncaught exception in the middle of the shutdown, and the client got a
   * reset instead of its 503. One warning names it.
   */
  let admitWarned = false;
  let admitAsyncWarned = false;
  const admitted = (req: IncomingMessage): boolean => {
    if (!options.admit) return false;
    try {
      const answer: unknown = options.admit(req);
      // An async admit (from JavaScript; TypeScript refuses it): the request must be served or
      // refused now, and a promise read as `true` — every late request was served — while its
      // rejection was unhandled, which ends the process by default, mid-shutdown. Such an answer
      // is no, as a throw is; its rejection is handled.
      if (
        answer !== null &&
        typeof answer === 'object' &&
        typeof (answer as PromiseLike<unknown>).then === 'function'
      ) {
        (answer as PromiseLike<unknown>).then(undefined, () => {});
        if (!admitAsyncWarned) {
          admitAsyncWarned = true;
          log.warn(
            'http: admit returned a promise during the drain; it must answer at once (true or false): such requests are refused (503)',
          );
        }
        return false;
      }
      return Boolean(answer);
    } catch (err) {
      if (!admitWarned) {
        admitWarned = true;
        log.warn('http: admit threw during the drain; such requests are refused (503)', {
          error: err,
        });
      }
      return false;
    }
  };

  /** The 503; `close`: the connection's last response (Connection: close), see the request listener. */
  const refuse = (res: ServerResponse, close = true) => {
    const body = 'service is shutting down\n';
    res.writeHead(503, {
      ...(close ? { connection: 'close' } : {}),
      'retry-after': retryAfter,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  /**
   * `refuse` for an upgrade (WebSocket) or CONNECT request, which has no response object: the
   * same 503, written on its socket.
   */
  const refuseSocket = (socket: Duplex) => {
    const body = 'service is shutting down\n';
    socket.end(
      'HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n' +
        `retry-after: ${retryAfter}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Marked as upgraded (`owned`), it is not ended as idle: a client keeping its side open after
    // the 503 is closed like any half-open one.
    setTimeout(() => socket.destroy(), HALF_OPEN_MS).unref();
  };
  /**
   * Upgrade and CONNECT requests never reach the `request` listeners: once the drain begins, the
   * `upgrade`/`connect` listeners the server has are wrapped the same way (a WebSocket was still
   * accepted during the drain, then cut). Where there is none, Node's own handling stays.
   */
  const guardSocketRequests = () => {
    for (const event of ['upgrade', 'connect'] as const) {
      const listeners = server.listeners(event) as ((
        req: IncomingMessage,
        socket: Duplex,
        head: Buffer,
      ) => void)[];
      if (listeners.length === 0) continue;
      server.removeAllListeners(event);
      server.on(event, (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (!admitted(req)) return refuseSocket(socket);
        for (const l of listeners) l.call(server, req, socket, head);
      });
    }
  };

  /**
   * node:http2 (its compatibility API, `http2.createServer(handler)` / `createSecureServer`): a
   * connection is a session carrying many requests, each on a stream of its own (`req.socket` is
   * a stand-in per stream). The connection never carried a request of its own, so the drain ended
   * it 2 s in, cutting every request still running, without a GOAWAY. Now the drain closes each
   * session (`session.close()`: GOAWAY, the streams already open finish, then it closes), waits
   * for it, and cuts it with the rest at the end of the grace period.
   */
  const http2 = typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
  const sessions = new Set<Http2Session>();
  const closeSession = (session: Http2Session) => {
    if (!session.closed && !session.destroyed) session.close();
  };
  if (http2)
    server.on('session', (session: Http2Session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
      // Opened during the drain: the requests it came with get their 503 first, then the GOAWAY.
      if (draining) setImmediate(() => closeSession(session));
    });

  /** Set when the drain begins: ends a connection that went idle during it, after `quietMs`. */
  let endWhenQuiet: ((socket: Socket) => void) | undefined;
  let onConnection: (() => void) | undefined;
  let accepted = 0;
  let acceptedDuringDrain = 0;
  const accept = (socket: Socket) => {
    const c = track(socket);
    // An HTTP/2 connection (h2c, or TLS that chose h2) belongs to its session, see `sessions`.
    if (http2 && (!(socket instanceof TLSSocket) || socket.alpnProtocol === 'h2')) c.owned = true;
    accepted++;
    if (draining) acceptedDuringDrain++;
    if (!draining) return;
    // Accepted during the drain: its request gets a 503; if none comes, it is ended.
    setTimeout(() => endIfIdle(socket), FRESH_CONNECTION_MS).unref();
  };
  // An https server's requests run on the TLS socket its `secureConnection` gives, not on the TCP
  // socket of `connection`: tracked by that one, the connection never carried a request, so the
  // drain ended it 2 s in (a running request lost its answer, whatever `graceMs`). The TCP sockets
  // still count as arrivals (the listener lingers for them) and are cut with the rest (one still
  // in its TLS handshake has no TLS socket yet); each closes with its TLS socket.
  const tcpSockets = new Set<Socket>();
  if (server instanceof TlsServer) {
    server.on('connection', (raw: Socket) => {
      tcpSockets.add(raw);
      raw.once('close', () => tcpSockets.delete(raw));
      if (draining) onConnection?.();
    });
    server.on('secureConnection', accept);
  } else
    server.on('connection', (socket: Socket) => {
      accept(socket);
      if (draining) onConnection?.();
    });
  // Sockets handed to an `upgrade` / `connect` listener (a WebSocket, a CONNECT tunnel) belong to
  // it from then on: they carry no pending response, so the drain took them for idle keep-alive
  // connections and ended them — at once when the connection had served a request before its
  // upgrade, after 2 s otherwise — whatever `graceMs`, with no chance for the app to close them
  // cleanly (a WebSocket close frame). They are marked here, through `emit` (a listener of our own
  // would change what Node does with upgrade requests: with none, it serves them as plain ones).
  const emit = server.emit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = function (this: Server, event: string | symbol, ...args: unknown[]) {
    if ((event === 'upgrade' || event === 'connect') && this.listenerCount(event) > 0) {
      const socket = args[1] as Socket;
      const c = connections.get(socket);
      if (c) c.owned = true;
    }
    return emit.call(this, event, ...args);
  } as Server['emit'];
  type Listener = (req: IncomingMessage, res: ServerResponse) => void;
  /** `bodyComing`: false for a request waiting for `100 Continue` (its body is not sent before). */
  const handle = (
    handlers: readonly Listener[],
    req: IncomingMessage,
    res: ServerResponse,
    bodyComing = true,
  ) => {
    const socket = req.socket;
    // HTTP/2: `req.socket` stands in for the request's stream (a destroyed one has not even
    // `unref`, and the cut threw on it); the connection is its session's, tracked on its own.
    const c = req.httpVersionMajor === 2 ? { pending: 0, used: true } : track(socket);
    c.used = true;
    c.pending++;
    // Every response is tracked, the 503s too: a connection is not ended while one is queued on it.
    responses.add(res);
    onResponseClose(req, res, () => {
      responses.delete(res);
      c.pending--;
      if (!draining) return;
      // Idle now: end it rather than wait for the keep-alive timeout — after `quietMs`, as an idle
      // connection at the start of the drain: a response whose headers went out before the drain
      // said keep-alive, and its client sends the next request as soon as it has read it (ended at
      // once, that request met our FIN: a reset instead of its 503). One that said
      // Connection: close is ended by Node itself.
      if (c.pending === 0) endWhenQuiet?.(socket);
      onChange?.();
    });
    // Only the connection's last response may say `Connection: close`: Node ends the connection
    // after it, so a pipelined request queued behind went unanswered (while its handler ran on).
    const previous = c.last;
    c.last = res;
    if (draining) {
      if (previous && !previous.headersSent) previous.removeHeader('connection');
      if (!admitted(req)) {
        // The 503 goes through the listeners that record it (server span, request metric:
        // refusal.ts) — they write it; a plain handler is never called, and it is written here
        // when none did (or one threw).
        let refused = false;
        const once = () => {
          if (refused) return;
          refused = true;
          // Written once Node has handed over the requests pipelined behind this one (the rest of
          // the data it is parsing): only the connection's last response may say Connection:
          // close. Written at once, the first 503 ended the connection and every request pipelined
          // behind it went unanswered.
          // A request whose body is still arriving has it read first (bounded: afterBody), so
          // that closing the connection after the 503 does not reset it.
          setImmediate(() => {
            const write = () => {
              if (!res.headersSent && !res.writableEnded && !res.destroyed)
                refuse(res, c.last === res && !isHttp2(res));
            };
            if (bodyComing) afterBody(req, write);
            else write();
          });
        };
        markRefused(req, once);
        for (const h of handlers)
          if (isRefusalAware(h))
            try {
              h.call(server, req, res);
            } catch {
              // the 503 is still written below
            }
        return once();
      }
      if (!isHttp2(res)) res.setHeader('connection', 'close');
    }
    for (const h of handlers) h.call(server, req, res);
  };
  const handlers = server.listeners('request') as Listener[];
  server.removeAllListeners('request');
  const onRequest = (req: IncomingMessage, res: ServerResponse) => handle(handlers, req, res);
  server.on('request', onRequest);
  /**
   * `request` listeners added after `drainServer` was called (`createServer()`, then
   * `server.on('request', app)`) were called by Node beside ours: during the drain a request got
   * its 503 and the handler ran anyway — the work done (an order placed) while the client was told
   * to retry it. They are taken over when the drain begins, like those present at the start.
   */
  const adoptLateListeners = () => {
    const listeners = server.listeners('request') as Listener[];
    // Ours was taken over itself (engine.io's attach() wraps every request listener there is and
    // calls them for other paths): then the others are not Node's to call beside ours, left alone.
    if (!listeners.includes(onRequest)) return;
    for (const l of listeners)
      if (l !== onRequest) {
        server.removeListener('request', l);
        handlers.push(l);
      }
  };
  // A server with a `checkContinue` (Expect: 100-continue) or `checkExpectation` listener gets
  // those requests there instead of on `request`: they skipped the drain (served during it, never
  // answered 503, not waited for). They take the same path, to their own listeners.
  for (const event of ['checkContinue', 'checkExpectation'] as const) {
    const listeners = server.listeners(event) as Listener[];
    if (listeners.length === 0) continue;
    server.removeAllListeners(event);
    server.on(event, (req: IncomingMessage, res: ServerResponse) => handle(listeners, req, res, false));
  }

  const drain = (given: Partial<DisposeInfo> = {}): Promise<void> => {
    const info = drainInfo(given);
    running ??= new Promise<void>((resolve) => {
      draining = true;
      adoptLateListeners();
      guardSocketRequests();
      const budget = info.timeoutMs ?? Number.POSITIVE_INFINITY;
      const grace = Math.max(0, Math.min(graceMs, budget * BUDGET_SHARE));
      let listenerClosed = !server.listening;
      // Not listening yet: a `listen()` may still be binding (a host name being looked up, a
      // SIGTERM during startup). It bound after this drain had resolved, and the port stayed
      // open for good — answering 503 to everyone and keeping the process alive after
      // `app.close()` resolved. A drained server that starts listening closes its listener at once.
      // Binding also started http's connections-checking interval (its own 'listening' listener
      // runs first): stopped too, or it held the server, and through its handler the app, for good.
      if (listenerClosed)
        server.once('listening', () => {
          NetServer.prototype.close.call(server);
          stopConnectionsCheck(server);
        });
      let done = false;
      const timers: NodeJS.Timeout[] = [];
      const later = (ms: number, fn: () => void) => {
        const timer = setTimeout(fn, ms);
        timer.unref();
        timers.push(timer);
      };
      const finish = () => {
        if (done || !listenerClosed || responses.size > 0 || connections.size > 0) return;
        settle();
      };
      const settle = () => {
        done = true;
        for (const timer of timers) clearTimeout(timer);
        info.signal?.removeEventListener('abort', cut);
        log.info('http: drained', { acceptedDuringDrain, left: connections.size });
        // Connections a client keeps half-open after our FIN must not hold the process.
        for (const socket of connections.keys()) socket.unref();
        for (const raw of tcpSockets) raw.unref();
        stopConnectionsCheck(server);
        resolve();
      };
      let cutting = false;
      const cut = () => {
        if (done) return;
        if (responses.size > 0)
          log.warn('http: requests still running at the end of the grace period were cut', {
            requests: responses.size,
            graceMs: grace,
          });
        // Marked first: their server spans and request metrics say `shutdown`, not `aborted` (a
        // client hanging up), when their connections are destroyed below.
        for (const res of responses) noteShutdownCut(res);
        // Their handlers may still be running, but their clients are gone: stop waiting for them.
        responses.clear();
        for (const socket of connections.keys()) socket.destroy();
        for (const raw of tcpSockets) raw.destroy();
        // The listener too, if it still lingers: cut by its signal before the grace period ended
        // (the linger's own timer fires with the grace period's), the drain resolved with the port
        // still open — answering 503 to everyone and keeping the process alive for good.
        closeListenerNow?.();
        listenerClosed = true;
        // Resolved once the destroyed connections have closed (their close callbacks, in the next
        // turn of the event loop): their responses' 'close' ends each cut request's server span
        // (traceHandler) and records its request metric. Resolved at once, the drain let the next
        // disposer — the tracer's close — begin first, and every span of a request the drain cut
        // was dropped as `shutdown`, never exported. Bounded, should a socket not report its close.
        if (!cutting) later(Math.min(CUT_CLOSE_MS, budget * (1 - BUDGET_SHARE)), settle);
        cutting = true;
        finish();
      };
      /** Closes the listening socket at once (set while it lingers). */
      let closeListenerNow: (() => void) | undefined;
      onChange = finish;
      let fresh = 0;
      for (const c of connections.values()) if (!c.used) fresh++;
      log.info('http: draining', {
        connections: connections.size,
        accepted,
        requests: responses.size,
        fresh,
        graceMs: grace,
      });
      // Running requests answer with Connection: close — the last one of each connection (an
      // earlier pipelined one with it would end the connection before the others are answered) —
      // so their connections end after the reply.
      for (const c of connections.values())
        if (c.pending > 0 && c.last && !c.last.headersSent && !isHttp2(c.last))
          c.last.setHeader('connection', 'close');
      // HTTP/2: a GOAWAY on each session; the requests it carries finish, then it closes.
      for (const session of sessions) closeSession(session);
      if (!listenerClosed) {
        let closing = false;
        const closeListener = () => {
          if (closing) return;
          closing = true;
          onConnection = undefined;
          // Only the listener: http's own close() also destroys every connection it deems idle,
          // including fresh ones whose first request is still unread (a reset for that client).
          NetServer.prototype.close.call(server, () => {
            listenerClosed = true;
            finish();
          });
        };
        // Linger until the connections queued in the kernel are accepted (a quiet moment), so
        // closing the listening socket resets nobody. The close itself waits for the check phase
        // (setImmediate): a poll phase, which accepts whatever is queued, always runs before it —
        // on a busy loop a timer alone can expire before the queued connections were ever seen.
        let quiet: NodeJS.Timeout | undefined;
        let arrivals = 0;
        const closeAfterPoll = (force: boolean) => {
          const seen = arrivals;
          setImmediate(() => {
            if (force || (arrivals === seen && responses.size === 0)) closeListener();
            else if (arrivals === seen) restartQuiet(false);
          });
        };
        const restartQuiet = (arrived = true) => {
          if (arrived) arrivals++;
          if (quiet) clearTimeout(quiet);
          quiet = setTimeout(() => closeAfterPoll(false), Math.min(quietMs, lingerMs));
          quiet.unref();
          timers.push(quiet);
        };
        onConnection = () => restartQuiet();
        closeListenerNow = closeListener;
        restartQuiet();
        later(Math.min(lingerMs, grace), () => closeAfterPoll(true));
      }
      endWhenQuiet = (socket) => later(Math.min(quietMs, grace), () => endIfIdle(socket));
      for (const [socket, c] of connections) {
        if (c.pending > 0) continue;
        // An idle keep-alive connection may have its next request on the way: a busy client sends
        // it as soon as it has read the last answer. Ended at once, every such request met our FIN
        // and got a reset (under load, one per connection at each SIGTERM: 64 clients, 64
        // ECONNRESET). It gets `quietMs`, as the listener does: a request in that moment gets its
        // 503 with Connection: close; a connection that stays idle is ended then. A fresh one may
        // be carrying its first request (it then gets a 503 too); ended if nothing came after a moment.
        if (c.used) later(Math.min(quietMs, grace), () => endIfIdle(socket));
        else later(Math.min(FRESH_CONNECTION_MS, grace), () => endIfIdle(socket));
      }
      // A signal aborted already (a budget shared with earlier steps, spent by them) never fires
      // 'abort': the drain waited its whole grace period instead of cutting at once.
      if (info.signal?.aborted) return cut();
      info.signal?.addEventListener('abort', cut, { once: true });
      later(grace, cut);
      finish();
    });
    return running;
  };

  return Object.defineProperties(drain, {
    inFlight: { get: () => responses.size },
    draining: { get: () => draining },
  }) as ServerDrain;
}

/**
 * What the drain can use of what it is called with. It is often handed over as a callback, and a
 * caller may pass its own object: close-with-grace calls its handler with `{ signal: 'SIGTERM',
 * err, manual }`, whose `signal` is the signal's name. The drain then rejected with a raw
 * TypeError (`info.signal?.addEventListener is not a function`), though it never rejects, and
 * left the server listening and answering 503 for good. A `signal` that is not an AbortSignal is
 * now no signal, and anything but an object (`null`, the `'SIGTERM'` of `process.once`) is none.
 */
function drainInfo(given: unknown): Partial<DisposeInfo> {
  if (given === null || typeof given !== 'object') return {};
  const info = given as Partial<DisposeInfo>;
  const signal = info.signal as { addEventListener?: unknown; aborted?: unknown } | undefined;
  if (
    signal === undefined ||
    (typeof signal?.addEventListener === 'function' && typeof signal.aborted === 'boolean')
  )
    return info;
  const { signal: _ignored, ...rest } = info;
  return rest;
}
