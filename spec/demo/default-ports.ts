/**
 * The demo's default ports, 8080–8082, held by a test so that the demo it starts falls back to
 * free ports the kernel picks. For tests that check a stopped demo's gateway no longer answers:
 * test files run side by side (spec/run.mjs), and another file's demo (or run.test.ts, which holds
 * 8080 with a server of its own) could take 8080 between this demo's exit and the check, which
 * then met that other server. A port another process holds is waited for (bounded): the demo
 * falls back from it anyway, but the holder may let it go just before the demo binds it.
 */
import { createServer, type Server } from 'node:net';

export const DEMO_PORTS = [8080, 8081, 8082] as const;

function hold(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const s = createServer((socket) => socket.destroy());
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/**
 * Holds 8080–8082 on 127.0.0.1, waiting up to `timeoutMs` for each one that is busy; resolves a
 * `release()` that closes what it holds. A port still busy after the wait is left to its holder.
 */
export async function holdDemoPorts(timeoutMs = 30_000): Promise<{ release(): Promise<void> }> {
  const deadline = Date.now() + timeoutMs;
  const held: Server[] = [];
  for (const port of DEMO_PORTS) {
    for (;;) {
      const s = await hold(port);
      if (s) {
        held.push(s);
        break;
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    release: () => Promise.all(held.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => {}),
  };
}
