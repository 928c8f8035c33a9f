/**
 * A fault-injecting TCP proxy on loopback, for tests of what a client does when the network between
 * it and a server misbehaves. Bytes flow unchanged unless a fault is set:
 *
 *   delay     client→server bytes are held this many ms (in order) before being forwarded
 *   dropping  client→server bytes are discarded while it is true (the server never sees those
 *             commands, the client waits for replies that never come); a connection that lost
 *             bytes is cut when dropping ends — TCP never resumes a stream with a hole in it
 *   cut()     every open connection is destroyed at once (both sides see a reset / close)
 *   droppingReplies  server→client bytes are discarded while it is true (the server ran the
 *             commands, the client never hears of it: a lost reply); a connection that lost
 *             bytes is cut when it ends
 *
 * `delay` and `dropping` apply to client→server only: replies flow, so a delayed command still
 * gets its (late) reply. Everything is bounded: at most `maxConnections` sockets, at most
 * `maxBufferedBytes` held per connection (beyond it the connection is cut), and `close()` destroys
 * every socket and timer.
 *
 *   const proxy = await startFaultProxy({ target: { host, port } });
 *   createRedisCache({ addresses: [`127.0.0.1:${proxy.port}`] });
 *   proxy.delay = 600;  // …
 *   await proxy.close();
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface FaultProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
  /** Most client connections at once; more are refused (destroyed). Default 64. */
  readonly maxConnections?: number;
  /** Most bytes held back (delayed) per connection; more cuts the connection. Default 16 MiB. */
  readonly maxBufferedBytes?: number;
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** Hold client→server bytes this many ms. 0 = forward at once. */
  delay: number;
  /** Discard client→server bytes while true; connections that lost bytes are cut when set back to false. */
  dropping: boolean;
  /** Discard server→client bytes while true; connections that lost bytes are cut when set back to false. */
  droppingReplies: boolean;
  /** Destroys every open connection (the clients reconnect through the proxy). */
  cut(): void;
  /** Connections open now. */
  readonly connections: number;
  /** Chunks held back by `delay` and not yet forwarded. */
  readonly held: number;
  /** Bytes forwarded / dropped client→server, and server→client bytes dropped, so far. */
  readonly stats: { forwarded: number; dropped: number; droppedReplies: number; cuts: number };
  /** Stops listening and destroys everything. Idempotent. */
  close(): Promise<void>;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const maxConnections = options.maxConnections ?? 64;
  const maxBuffered = options.maxBufferedBytes ?? 16 * 1024 * 1024;
  interface Pair {
    client: Socket;
    server: Socket;
    /** Delayed chunks in arrival order, each with the time it may leave. */
    queue: { chunk: Buffer; due: number }[];
    /** The one timer of this connection, armed for the head of `queue`. */
    timer: NodeJS.Timeout | undefined;
    bytes: number;
    lost: boolean;
  }
  const pairs = new Set<Pair>();
  const stats = { forwarded: 0, dropped: 0, droppedReplies: 0, cuts: 0 };
  let closed = false;

  const kill = (pair: Pair) => {
    if (pair.timer) clearTimeout(pair.timer);
    pair.timer = undefined;
    pair.queue.length = 0;
    pair.client.destroy();
    pair.server.destroy();
    pairs.delete(pair);
  };

  // One timer per connection, and chunks leave strictly in the order they came: separate timers
  // with equal deadlines may fire in any order, and TCP never reorders bytes.
  const pump = (pair: Pair) => {
    pair.timer = undefined;
    const now = Date.now();
    while (pair.queue.length > 0 && pair.queue[0]!.due <= now) {
      const { chunk } = pair.queue.shift()!;
      pair.bytes -= chunk.length;
      stats.forwarded += chunk.length;
      if (!pair.server.destroyed) pair.server.write(chunk);
    }
    if (pair.queue.length > 0) pair.timer = setTimeout(() => pump(pair), pair.queue[0]!.due - now);
  };

  const server: Server = createServer((client) => {
    if (closed || pairs.size >= maxConnections) {
      client.destroy();
      return;
    }
    const upstream = connect(options.target.port, options.target.host);
    const pair: Pair = { client, server: upstream, queue: [], timer: undefined, bytes: 0, lost: false };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (dropping) {
        stats.dropped += chunk.length;
        pair.lost = true;
        return;
      }
      if (proxy.delay <= 0 && pair.queue.length === 0) {
        stats.forwarded += chunk.length;
        upstream.write(chunk);
        return;
      }
      pair.bytes += chunk.length;
      if (pair.bytes > maxBuffered) {
        stats.cuts++;
        kill(pair);
        return;
      }
      const last = pair.queue.at(-1)?.due ?? 0;
      pair.queue.push({ chunk, due: Math.max(Date.now() + proxy.delay, last) });
      if (pair.timer === undefined)
        pair.timer = setTimeout(() => pump(pair), pair.queue[0]!.due - Date.now());
    });
    upstream.on('data', (chunk: Buffer) => {
      if (droppingReplies) {
        stats.droppedReplies += chunk.length;
        pair.lost = true;
        return;
      }
      if (!client.destroyed) client.write(chunk);
    });
    const end = () => kill(pair);
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy: no port');

  let dropping = false;
  let droppingReplies = false;
  const cutLost = () => {
    for (const pair of [...pairs]) {
      if (!pair.lost) continue;
      stats.cuts++;
      kill(pair);
    }
  };
  const proxy: FaultProxy = {
    host: '127.0.0.1',
    port: address.port,
    delay: 0,
    get dropping() {
      return dropping;
    },
    set dropping(on: boolean) {
      dropping = on;
      if (!on) cutLost();
    },
    get droppingReplies() {
      return droppingReplies;
    },
    set droppingReplies(on: boolean) {
      droppingReplies = on;
      if (!on) cutLost();
    },
    cut() {
      for (const pair of [...pairs]) {
        stats.cuts++;
        kill(pair);
      }
    },
    get connections() {
      return pairs.size;
    },
    get held() {
      let n = 0;
      for (const pair of pairs) n += pair.queue.length;
      return n;
    },
    stats,
    async close() {
      if (closed) return;
      closed = true;
      proxy.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
