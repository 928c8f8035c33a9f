/**
 * `drainServer(server)`: the disposer every `createApp` user with a `node:http` server needs.
 * Registered after the other components (`app.defer('http', drainServer(server))`), it runs first
 * on close, and the database pool, caches, metrics and tracer close only after the last handler:
 *
 * 1. the listener stops accepting connections; idle keep-alive connections are closed at once;
 * 2. requests already running finish (their responses carry `Connection: close`);
 * 3. a request arriving after the stop began, on a connection that is still open, is answered
 *    `503` with `Connection: close` and `Retry-After` (never a reset);
 * 4. after `graceMs` (capped by the disposer's budget) the remaining connections are cut.
 *
 * Only `node:` types are used: the core imports no package.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from './contracts.js';
import type { DisposeInfo } from './disposers.js';

export interface DrainOptions {
  /** How long running requests may take once the stop began, ms. Default 5000. */
  graceMs?: number;
  /** `Retry-After` (seconds) of the 503 sent to requests arriving during the drain. Default 1. */
  retryAfterSeconds?: number;
  /** Receives one warning when requests had to be cut at the end of the grace period. */
  logger?: Logger;
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

/**
 * Wraps the `request` listeners `server` has now (attach the handler first: `createServer(handler)`
 * does) and returns the draining disposer. Resolves when every connection is closed; never rejects.
 */
export function drainServer(server: Server, options: DrainOptions = {}): ServerDrain {
  const graceMs = options.graceMs ?? 5000;
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  /** Running requests per connection, and the responses not finished yet. */
  const perSocket = new Map<Socket, number>();
  const responses = new Set<ServerResponse>();
  let draining = false;
  let running: Promise<void> | undefined;
  let onSettled: (() => void) | undefined;

  const refuse = (res: ServerResponse) => {
    const body = 'service is shutting down\n';
    res.writeHead(503, {
      connection: 'close',
      'retry-after': retryAfter,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    // Every response is tracked, the 503s too: a connection is not ended while one is queued on it.
    responses.add(res);
    perSocket.set(socket, (perSocket.get(socket) ?? 0) + 1);
    res.once('close', () => {
      responses.delete(res);
      const left = (perSocket.get(socket) ?? 1) - 1;
      if (left > 0) perSocket.set(socket, left);
      else perSocket.delete(socket);
      if (!draining) return;
      // The connection is idle now: end it rather than wait for the keep-alive timeout (after
      // Node has had a turn to put a queued pipelined response on it).
      if (left <= 0)
        setImmediate(() => {
          if (!perSocket.has(socket) && !socket.destroyed) socket.end();
        });
      onSettled?.();
    });
    if (draining) return refuse(res);
    for (const h of handlers) h.call(server, req, res);
  });

  const drain = (info: Partial<DisposeInfo> = {}): Promise<void> => {
    running ??= new Promise<void>((resolve) => {
      draining = true;
      const budget = info.timeoutMs ?? Number.POSITIVE_INFINITY;
      const grace = Math.max(0, Math.min(graceMs, budget * BUDGET_SHARE));
      let listenerClosed = !server.listening;
      let done = false;
      const finish = () => {
        if (done || !listenerClosed || responses.size > 0) return;
        done = true;
        clearTimeout(cutTimer);
        info.signal?.removeEventListener('abort', cut);
        resolve();
      };
      const cut = () => {
        if (done) return;
        if (responses.size > 0)
          options.logger?.warn('http: requests still running at the end of the grace period were cut', {
            requests: responses.size,
            graceMs: grace,
          });
        // Their handlers may still be running, but their clients are gone: stop waiting for them.
        responses.clear();
        server.closeAllConnections();
        listenerClosed = true;
        finish();
      };
      onSettled = finish;
      // Running requests answer with Connection: close, so their connections end after the reply.
      for (const res of responses) if (!res.headersSent) res.setHeader('connection', 'close');
      if (!listenerClosed) {
        server.close(() => {
          listenerClosed = true;
          finish();
        });
      }
      server.closeIdleConnections();
      info.signal?.addEventListener('abort', cut, { once: true });
      const cutTimer = setTimeout(cut, grace);
      cutTimer.unref();
      finish();
    });
    return running;
  };

  return Object.defineProperties(drain, {
    inFlight: { get: () => responses.size },
    draining: { get: () => draining },
  }) as ServerDrain;
}
