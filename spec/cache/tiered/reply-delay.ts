/**
 * A loopback TCP proxy that holds server→client bytes `state.delay` ms (in order), client→server
 * bytes flowing at once: a command runs on the server when sent, its reply reaches the client late
 * (head-of-line blocking behind a large reply, a retransmit). The fault proxy of the harness delays
 * the other direction only. Bounded: `close()` destroys every socket and timer.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ReplyDelayProxy {
  readonly port: number;
  readonly state: { delay: number };
  close(): Promise<void>;
}

/** Starts the proxy in front of the server on 127.0.0.1:`port`. */
export async function replyDelayProxy(port: number): Promise<ReplyDelayProxy> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const state = { delay: 0 };
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (d) => upstream.write(d));
    // One FIFO per connection, served by one timer at a time: chunks leave strictly in order
    // (a chunk due "now" never overtakes an earlier one whose timer has not fired yet).
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      if (timer) timers.delete(timer);
      timer = undefined;
      while (queue.length > 0 && queue[0]!.due <= Date.now()) {
        const { chunk } = queue.shift()!;
        if (!client.destroyed) client.write(chunk);
      }
      if (queue.length > 0) {
        timer = setTimeout(flush, queue[0]!.due - Date.now());
        timers.add(timer);
      }
    };
    upstream.on('data', (chunk: Buffer) => {
      const last = queue.at(-1)?.due ?? 0;
      queue.push({ due: Math.max(Date.now() + state.delay, last), chunk });
      if (!timer) flush();
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('close', end);
      s.on('error', end);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    state,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
