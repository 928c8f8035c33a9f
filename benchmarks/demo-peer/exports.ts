/**
 * How many OTLP export requests each side sends for the same load: Hyperion's demo (`on`) and
 * the raw-SDK twin (`peer`), both in this process, each exporting to its own path of a loopback
 * OTLP/HTTP receiver that counts requests, spans (the protobuf is walked, not decoded into
 * objects) and bytes per service. Each side is loaded alone at a fixed rate, then flushed by
 * closing it (the last, partial batches are counted apart).
 *
 *   node --import tsx benchmarks/demo-peer/exports.ts [--seconds 6] [--rate 200 (0: closed loop)] [--scrape]
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPgliteDb } from '../../demo/db.js';
import { seededRandom, zipf } from '../../demo/traffic.js';
import { startSide } from '../lib/demo-stacks.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    rate: { type: 'string', default: '200' },
    scrape: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    // ms between the warm-up and the counted load (0: count from the warm-up's end, as profile.ts runs)
    settle: { type: 'string', default: '2500' },
  },
});
const seconds = Math.max(1, Number(args.seconds));
const rounds = Math.max(1, Number(args.rounds));
// 0: closed loop (as many requests as 16 connections get through).
const rate = Math.max(0, Number(args.rate));
const bench = fileURLToPath(new URL('../demo.bench.ts', import.meta.url));

/** Reads a protobuf varint at `at`: [value, next offset]. */
function varint(b: Buffer, at: number): [number, number] {
  let v = 0;
  let shift = 0;
  for (;;) {
    const byte = b[at++]!;
    v += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [v, at];
    shift += 7;
  }
}

/** The length-delimited fields `field` of the message in b[from, to). */
function fields(b: Buffer, from: number, to: number, field: number): [number, number][] {
  const out: [number, number][] = [];
  let at = from;
  while (at < to) {
    let key: number;
    [key, at] = varint(b, at);
    const wire = key & 7;
    if (wire === 0) [, at] = varint(b, at);
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      let len: number;
      [len, at] = varint(b, at);
      if (key >>> 3 === field) out.push([at, at + len]);
      at += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

/** service.name and span count of each ResourceSpans of an ExportTraceServiceRequest. */
function walk(b: Buffer): { service: string; spans: number }[] {
  return fields(b, 0, b.length, 1).map(([s, e]) => {
    let service = '?';
    for (const [rs, re] of fields(b, s, e, 1))
      for (const [as, ae] of fields(b, rs, re, 1)) {
        const [ks, ke] = fields(b, as, ae, 1)[0]!;
        if (b.toString('utf8', ks, ke) !== 'service.name') continue;
        const [vs, ve] = fields(b, as, ae, 2)[0]!;
        const [ss, se] = fields(b, vs, ve, 1)[0]!;
        service = b.toString('utf8', ss, se);
      }
    let spans = 0;
    for (const [ss, se] of fields(b, s, e, 2)) spans += fields(b, ss, se, 2).length;
    return { service, spans };
  });
}

interface Export {
  at: number;
  service: string;
  spans: number;
  bytes: number;
}
const received: Record<string, Export[]> = { on: [], peer: [] };
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const side = req.url!.split('/')[1]!;
    for (const r of walk(body))
      received[side]?.push({ at: performance.now(), service: r.service, spans: r.spans, bytes: body.length });
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const port = (receiver.address() as AddressInfo).port;

const random = seededRandom(7);
const pick = zipf(100, random);
const paths = Array.from({ length: 400 }, () => `/users/${pick()}/orders`);
const load = (base: string) =>
  new Promise<{ total: number }>((resolve, reject) => {
    const c = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        bench,
        '--load-child',
        JSON.stringify({ base, paths, duration: seconds, connections: 16, rate }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    c.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    c.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`load: ${code}`)),
    );
  });

const db = await createPgliteDb();
const summary = (xs: Export[]) => {
  const by = new Map<string, { requests: number; spans: number; bytes: number; sizes: number[] }>();
  for (const x of xs) {
    const s = by.get(x.service) ?? { requests: 0, spans: 0, bytes: 0, sizes: [] };
    s.requests++;
    s.spans += x.spans;
    s.bytes += x.bytes;
    s.sizes.push(x.spans);
    by.set(x.service, s);
  }
  return by;
};
const sides = ['on', 'peer'] as const;
const stacks = {
  on: await startSide('on', db, `http://127.0.0.1:${port}/on/v1/traces`),
  peer: await startSide('peer', db, `http://127.0.0.1:${port}/peer/v1/traces`),
};
// Warm-up (caches filled), then forget what was exported.
for (const side of sides)
  for (let id = 1; id <= 100; id++)
    await fetch(`${stacks[side].gateway.url}/users/${id}/orders`).then((x) => x.arrayBuffer());
await new Promise((resolve) => setTimeout(resolve, Number(args.settle)));
received.on = [];
received.peer = [];
// As the benchmark does: /metrics of each service every second.
const scraper = args.scrape
  ? setInterval(() => {
      for (const side of sides)
        for (const s of stacks[side].all)
          fetch(`${s.url}/metrics`).then(
            (x) => x.arrayBuffer(),
            () => {},
          );
    }, 1000)
  : undefined;
// Sides loaded in turn, as in the benchmark's rounds (the idle side's timer runs meanwhile).
const served = { on: 0, peer: 0 };
const t0 = performance.now();
for (let round = 0; round < rounds; round++)
  for (const side of round % 2 ? [...sides].reverse() : sides)
    served[side] += (await load(stacks[side].gateway.url)).total;
const during = { on: received.on!.length, peer: received.peer!.length };
clearInterval(scraper);
for (const side of sides) await stacks[side].close();
for (const side of sides) {
  const all = received[side]!;
  console.log(
    `${side}: ${served[side]} requests in ${rounds} × ${seconds} s; export requests during the load ${during[side]}, ` +
      `${all.length - during[side]} more at close`,
  );
  for (const [service, s] of summary(all))
    console.log(
      `  ${service.padEnd(14)} ${String(s.requests).padStart(3)} exports, ${s.spans} spans, ${(s.bytes / s.spans).toFixed(0)} B/span: ${s.sizes.join(' ')}`,
    );
  console.log(`  times (ms): ${all.map((x) => `${x.service[0]}${(x.at - t0).toFixed(0)}`).join(' ')}`);
}
await db.close();
receiver.close();
process.exit(0);
