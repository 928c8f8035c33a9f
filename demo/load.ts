/**
 * Sends the demo's traffic mix to a running gateway (e.g. the compose stack), so there is
 * something to look at in Jaeger and Grafana:
 *
 *   node --import tsx demo/load.ts [BASE_URL=http://localhost:8080] [REQUESTS=2000] [CONCURRENCY=8]
 *
 * The trace link it prints points at `JAEGER_UI_URL` (default `http://localhost:16686`). It starts
 * no request after `LOAD_TIME_LIMIT_S` seconds (default 120); a run cut there says so and exits 2.
 */
import { refusedPort, serviceUrl } from './env.js';
import { driveTraffic, quantile } from './traffic.js';

const USAGE =
  'usage: node --import tsx demo/load.ts [BASE_URL=http://localhost:8080] [REQUESTS=2000] [CONCURRENCY=8]\n' +
  '  LOAD_TIME_LIMIT_S (default 120): no request is started after that many seconds; a run cut there exits 2';
const fail = (message: string): never => {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(1);
};
const args = process.argv.slice(2);
// Asked for, the usage is an answer (it was refused as a BASE_URL, "got \"--help\"", exit 1).
if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
// An argument past the third was ignored without a word (`… 2000 8 --verbose` ran as if absent).
if (args.length > 3)
  fail(
    `unexpected argument${args.length > 4 ? 's' : ''} after CONCURRENCY: ${args
      .slice(3)
      .map((a) => (a.includes('@') ? '(not shown: it may hold a password)' : JSON.stringify(a)))
      .join(' ')}`,
  );
const [base = 'http://localhost:8080', requests = '2000', concurrency = '8'] = args;
/** A whole number 1..max from an argument, or exit 1 naming it. */
const count = (name: string, text: string, max: number): number => {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max)
    fail(`${name} must be a whole number 1..${max}, got "${text}"`);
  return n;
};
const n = count('REQUESTS', requests, 1_000_000);
const c = count('CONCURRENCY', concurrency, 1000);
// A user name or password is refused (fetch refuses such URLs: every request failed, and the
// "nothing answered" line echoed the password), and a value holding an `@` is never shown.
if (!/^https?:\/\/[^/]/.test(base))
  fail(
    `BASE_URL must be an http:// or https:// URL${base.includes('@') ? ' (the value is not shown: it may hold a password)' : `, got "${base}"`}`,
  );
if (URL.canParse(base) && (new URL(base).username || new URL(base).password))
  fail('BASE_URL must be an http:// or https:// URL without a user name or password');
// A gateway on a port fetch refuses (6000, 6666 …): every request failed, "nothing … answered".
const refused = URL.canParse(base) ? refusedPort('BASE_URL', new URL(base)) : undefined;
if (refused) fail(refused);
let jaegerUi = '';
try {
  jaegerUi = serviceUrl('JAEGER_UI_URL', 'http://localhost:16686');
} catch (err) {
  fail((err as Error).message);
}
// The run starts no request after this: it used to stop at 120 s without a word, printing
// "N requests … 0 failed" and exit 0 for a run of fewer requests than asked.
const limitText = process.env.LOAD_TIME_LIMIT_S?.trim() || '120';
const limitS = count('LOAD_TIME_LIMIT_S', limitText, 86_400);
// `… | head -1`, or quitting `less`: the reader is gone and the next write failed with EPIPE, an
// uncaught 'error' event (a stack trace, exit 1) once the traffic had been sent. What is left to
// print goes nowhere; the exit code stays what the run decides.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});
const result = await driveTraffic({
  baseUrl: base.replace(/\/+$/, ''),
  requests: n,
  concurrency: c,
  deadlineMs: limitS * 1000,
  seed: Date.now() & 0xffff,
});
// Answered: a JSON 2xx/4xx, as the gateway's routes answer. Another server at BASE_URL (Jaeger's UI
// on 16686, Prometheus on 9090: an HTML page or a plain-text 404 for every path) was counted as
// answering every request, and the run ended "2000 answered, 0 failed" with exit 0.
const ok = result.samples.filter((s) => s.json && s.status >= 200 && s.status < 500);
// Served as the gateway serves the traffic mix: a 2xx, or the 400 of a deliberately bad order.
const served = ok.filter((s) => s.status < 300 || (s.kind === 'bad-order' && s.status === 400));
const ms = result.samples.map((s) => s.ms);
process.stdout.write(
  `${result.samples.length} requests in ${(result.elapsedMs / 1000).toFixed(1)} s: ${ok.length} answered (2xx/4xx), ` +
    `${result.samples.length - ok.length} failed; p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms\n`,
);
const sample = served.find((s) => s.kind === 'user-orders' && s.traceId);
if (sample) process.stdout.write(`a trace to open: ${jaegerUi}/trace/${sample.traceId}\n`);
// Cut at the time limit: said, and exit 2 (unless a failure below makes it 1).
const cut = result.samples.length < n;
if (cut) {
  process.stderr.write(
    `stopped at the time limit (LOAD_TIME_LIMIT_S=${limitS} s): ${result.samples.length} of the ${n} requests asked for were sent; ` +
      'raise LOAD_TIME_LIMIT_S or CONCURRENCY, or ask for fewer REQUESTS\n',
  );
  process.exitCode = 2;
}
// Nothing answered: the gateway is not there (the stack not up, a wrong URL): say so, exit 1.
if (result.samples.length > 0 && result.samples.every((s) => s.status === 0))
  fail(`nothing at ${base} answered a request: is the gateway running (docker-compose ps)?`);
// Something answered, but no request was served: another server, a path the gateway does not
// have (`…/api`), or a gateway whose services are down. What came back is named, exit 1.
if (result.samples.length > 0 && served.length === 0) {
  const got = new Map<string, number>();
  for (const s of result.samples) {
    const what = s.status === 0 ? 'no answer' : `${s.status}${s.json ? '' : ' (not JSON)'}`;
    got.set(what, (got.get(what) ?? 0) + 1);
  }
  fail(
    `no request to ${base} was served as the demo's gateway serves it (got ${[...got].map(([what, n]) => `${n} × ${what}`).join(', ')}): ` +
      "is it the gateway's base URL (such as http://localhost:8080), and are its services up (docker-compose ps)?",
  );
}
