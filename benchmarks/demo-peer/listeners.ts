/**
 * What the end-of-response listeners of one traced, metered demo response cost: a real
 * `ServerResponse` per iteration, the listeners each side registers, then the `finish` and
 * `close` events Node emits for a completed response. Listener bodies are empty: only the
 * registration and dispatch differ between the variants (the span/metric work is the same).
 *
 *   on     traceHandler once('close'), instrument once('finish') + once('close'), request log once('finish')
 *   peer   the twin's server wrapper once('close'), request log once('finish')
 *   shared one once('close') for span, metric and log (a shared end-of-response hook)
 *   none   no listener (the floor: the response object and the two emits)
 *
 *   node benchmarks/demo-peer/listeners.ts              (Node ≥ 22.18: types stripped, no tsx)
 *   node --import tsx benchmarks/demo-peer/listeners.ts  (as the demo bench runs: + tsx's `__name`
 *                                                          on the named `finish` closure, names.ts)
 */
import { IncomingMessage, ServerResponse as Response, type ServerResponse } from 'node:http';
import { Socket } from 'node:net';

const socket = new Socket();
let sink = 0;
const body = () => {
  sink++;
};

const variants: Record<string, (res: ServerResponse) => void> = {
  on(res) {
    let traced = false;
    res.once('close', () => {
      if (!traced) traced = true;
      body();
    });
    let metered = false;
    const finish = () => {
      if (metered) return;
      metered = true;
      body();
    };
    res.once('finish', finish);
    res.once('close', finish);
    res.once('finish', body);
  },
  peer(res) {
    res.once('close', body);
    res.once('finish', body);
  },
  shared(res) {
    res.once('close', () => {
      body();
      body();
      body();
    });
  },
  none() {},
};

function round(register: (res: ServerResponse) => void, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const res = new Response(new IncomingMessage(socket));
    register(res);
    res.emit('finish');
    res.emit('close');
  }
  return Number(process.hrtime.bigint() - t0) / n;
}

const names = Object.keys(variants);
const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
for (let r = 0; r < 21; r++)
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + r) % names.length]!;
    times[name]!.push(round(variants[name]!, 50_000));
  }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const floor = median(times.none!);
console.log('ns per response (median of 21 rotated rounds of 50,000), and above the no-listener floor');
for (const name of names)
  console.log(
    `  ${name.padEnd(7)} ${median(times[name]!).toFixed(0).padStart(5)}   +${(median(times[name]!) - floor).toFixed(0)}`,
  );
if (sink < 0) console.log(sink);
