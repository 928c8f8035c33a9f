/**
 * A fault-injecting TCP proxy on loopback, for tests of what a client does when the network between
 * it and a server misbehaves. Bytes flow unchanged unless a fault is set:
 *
 *   delay     client→server bytes are held this many ms (in order) before being forwarded
 *   dropping  client→server bytes are discarded while it is true (the server never sees those
 *             commands, the client waits for replies that never come); a connection that lost
 *             bytes is cut when dropping ends — TCP never resumes a stream with a hole in it
 *   cut()     every open connection is destroyed at once (both sides see a reset / close)
 *
 * Faults apply per direction client→server only: replies always flow, so a delayed command still
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
  /** Destroys every open connection (the clients reconnect through the proxy). */
  cut(): void;
  /** Connections open now. */
  readonly connections: number;
  /** Chunks held back by `delay` and not yet forwarded. */
  readonly held: number;
  /** Bytes forwarded / dropped client→server so far. */
  readonly stats: { forwarded: number; dropped: number; cuts: number };
  /** Stops listening and destroys everything. Idempotent. */
  close(): Promise<void>;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const maxConnections = options.maxConnections ?? 64;
  const maxBuffered = options.maxBufferedBytes ?? 16 * 1024 * 1024;
  const pairs = new Set<{ client: Socket; server: Socket; timers: Set<NodeJS.Timeout>; lost: boolean }>();
  const stats = { forwarded: 0, dropped: 0, cuts: 0 };
  let closed = false;

  const kill = (pair: { client: Socket; server: Socket; timers: Set<NodeJS.Timeout>; lost: boolean }) => {
    for (const t of pair.timers) clearTimeout(t);
    pair.timers.clear();
    pair.client.destroy();
    pair.server.destroy();
    pairs.delete(pair);
  };

  const server: Server = createServer((client) => {
    if (closed || pairs.size >= maxConnections) {
      client.destroy();
      return;
    }
    const upstream = connect(options.target.port, options.target.host);
    const pair = { client, server: upstream, timers: new Set<NodeJS.Timeout>(), lost: false };
    pairs.add(pair);
    let held = 0;
    // Delivery stays in order: each chunk leaves no earlier than the previous one.
    let lastDue = 0;
    client.on('data', (chunk: Buffer) => {
      if (dropping) {
        stats.dropped += chunk.length;
        pair.lost = true;
        return;
      }
      if (proxy.delay <= 0 && pair.timers.size === 0) {
        stats.forwarded += chunk.length;
        upstream.write(chunk);
        return;
      }
      held += chunk.length;
      if (held > maxBuffered) {
        stats.cuts++;
        kill(pair);
        return;
      }
      const due = Math.max(Date.now() + proxy.delay, lastDue);
      lastDue = due;
      const timer = setTimeout(() => {
        pair.timers.delete(timer);
        held -= chunk.length;
        stats.forwarded += chunk.length;
        if (!upstream.destroyed) upstream.write(chunk);
      }, due - Date.now());
      pair.timers.add(timer);
    });
    upstream.on('data', (chunk: Buffer) => {
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
  const proxy: FaultProxy = {
    host: '127.0.0.1',
    port: address.port,
    delay: 0,
    get dropping() {
      return dropping;
    },
    set dropping(on: boolean) {
      dropping = on;
      if (on) return;
      for (const pair of [...pairs]) {
        if (!pair.lost) continue;
        stats.cuts++;
        kill(pair);
      }
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
      for (const pair of pairs) n += pair.timers.size;
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
