/**
 * The closures each side names per request when run through tsx (as the demo benchmark runs the
 * services): esbuild's `keepNames` wraps every named function expression created at run time in
 * `__name(fn, "fn")`, an `Object.defineProperty` on the new closure (≈ 0.25 µs more per closure
 * made and called, measured at the end of the output). Built code (tsc) has no such call. Counted by
 * patching `Object.defineProperty` before the modules load, over 200 sequential requests per side
 * after a warm-up; Node's own bundled undici is listed apart (the same on every side).
 *
 *   node --import tsx benchmarks/demo-peer/names.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const counts = new Map<string, number>();
let counting = false;
const defineProperty = Object.defineProperty;
Object.defineProperty = ((target: object, key: PropertyKey, desc: PropertyDescriptor) => {
  if (counting && key === 'name' && typeof target === 'function') {
    // [0] Error, [1] this function, [2] __name, [3] the code that created the closure.
    const caller = new Error().stack?.split('\n')[3]?.trim() ?? '';
    const where = /((?:file:\/\/)?[^\s():]+):\d+/.exec(caller)?.[1] ?? caller;
    const key = `${where.replace(/^.*?\/(lib|demo|benchmarks)\//, '$1/')} ${String(desc?.value)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return defineProperty(target, key, desc);
}) as typeof Object.defineProperty;

// Loaded after the patch: each module's `__defProp` is bound when it is evaluated.
const { createPgliteDb } = await import('../../demo/db.js');
const { startSide } = await import('../lib/demo-stacks.js');

const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end());
});
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`;
const db = await createPgliteDb();
const N = 200;
for (const side of ['on', 'peer', 'off'] as const) {
  const r = await startSide(side, db, endpoint);
  const get = (i: number) =>
    fetch(`${r.gateway.url}/users/${(i % 100) + 1}/orders`).then((x) => x.arrayBuffer());
  for (let i = 0; i < 100; i++) await get(i);
  counts.clear();
  counting = true;
  for (let i = 0; i < N; i++) await get(i);
  counting = false;
  const rows = [...counts].sort((a, b) => b[1] - a[1]);
  const ours = rows.filter(([k]) => !k.startsWith('internal/'));
  const sum = (xs: [string, number][]) => xs.reduce((t, [, n]) => t + n, 0) / N;
  console.log(
    `${side}: ${sum(ours).toFixed(1)} per request in tsx-compiled code (+ ${(sum(rows) - sum(ours)).toFixed(1)} in Node's undici)`,
  );
  for (const [k, n] of ours) console.log(`  ${(n / N).toFixed(2).padStart(6)}  ${k}`);
  await r.close();
}
await db.close();
sink.close();

// What one such call costs: a closure made and called, with and without esbuild's helper
// (written out here, so that this comparison itself does not depend on tsx's output).
const name = (fn: () => void, value: string) =>
  defineProperty(fn, 'name', { value, configurable: true }) as () => void;
let calls = 0;
// An anonymous closure (an array element gets no inferred name, so no __name either) …
const plain = (i: number) => {
  const f = [
    () => {
      calls += i;
    },
  ][0]!;
  f();
};
// … and the same closure through the helper.
const named = (i: number) => {
  const f = name(
    [
      () => {
        calls += i;
      },
    ][0]!,
    'f',
  );
  f();
};
const time = (fn: (i: number) => void) => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 200_000; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / 200_000;
};
const t = { plain: [] as number[], named: [] as number[] };
for (let r = 0; r < 21; r++) {
  t.plain.push(time(plain));
  t.named.push(time(named));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  `a closure made and called: ${median(t.plain).toFixed(0)} ns plain, ${median(t.named).toFixed(0)} ns with __name${calls < 0 ? '' : ''}`,
);
process.exit(0);
