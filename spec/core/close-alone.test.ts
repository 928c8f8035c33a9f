import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const appUrl = new URL('../../lib/core/app.ts', import.meta.url).href;
const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `body` (an ES module awaiting `app.close()`) in a fresh Node process with nothing else alive. */
function runAlone(body: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', body], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

it('a disposer that hangs on a promise holding no handle is still bounded: the process waits for the timeout and runs the rest', () => {
  // Nothing but the disposer timer keeps this process alive while "hang" is pending: the timer
  // must hold the event loop, or the process exits mid-close (code 13, "unsettled top-level
  // await") and "first" — the tracer flush, say — never runs.
  const r = runAlone(`
    import { createApp } from ${JSON.stringify(appUrl)};
    const app = createApp({ disposeTimeoutMs: 200 });
    const ran = [];
    app.defer('first', () => { ran.push('first'); });
    app.defer('hang', () => new Promise(() => {}));
    const err = await app.close().then(() => undefined, (e) => e);
    console.log(JSON.stringify({ ran, errors: err?.errors?.map((e) => [e.name, e.message]) }));
  `);
  assert.equal(r.status, 0, `exit ${r.status}\n${r.err}`);
  assert.deepEqual(JSON.parse(r.out.trim()), {
    ran: ['first'],
    errors: [['TimeoutError', 'disposer "hang" did not finish within 200 ms']],
  });
});
