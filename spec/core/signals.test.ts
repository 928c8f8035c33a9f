/**
 * `closeOnSignals` with real signals, in a child process: a signal repeated during the close (a
 * second Ctrl+C, or the terminal's SIGINT plus the one npm forwards) must not kill the process
 * half way through the drain.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/signals-child.ts', import.meta.url));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  it(`a second ${signal} while the app drains is ignored: the running request is answered, exit code 0`, async (t) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const kill = setTimeout(() => p.kill('SIGKILL'), 30_000);
    t.after(() => {
      clearTimeout(kill);
      p.kill('SIGKILL');
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      p.once('exit', (code, sig) => resolve({ code, signal: sig })),
    );
    let err = '';
    p.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    // Resolves with the first stdout line for which `match` holds (JSON-parsed), or undefined at exit.
    let out = '';
    const waiters: {
      match: (r: Record<string, unknown>) => boolean;
      resolve: (r?: Record<string, unknown>) => void;
    }[] = [];
    const records: Record<string, unknown>[] = [];
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      let nl = out.indexOf('\n');
      while (nl !== -1) {
        const record = JSON.parse(out.slice(0, nl)) as Record<string, unknown>;
        out = out.slice(nl + 1);
        records.push(record);
        for (const w of waiters.splice(0))
          if (w.match(record)) w.resolve(record);
          else waiters.push(w);
        nl = out.indexOf('\n');
      }
    });
    const line = (match: (r: Record<string, unknown>) => boolean) =>
      Promise.race([
        new Promise<Record<string, unknown> | undefined>((resolve) => {
          const seen = records.find(match);
          if (seen) resolve(seen);
          else waiters.push({ match, resolve });
        }),
        exited.then(() => undefined),
      ]);

    const started = await line((r) => typeof r.port === 'number');
    assert.ok(started, `child did not start: ${err}`);
    // A request whose body is still on its way when the stop begins.
    const req = request({
      host: '127.0.0.1',
      port: started.port as number,
      path: '/upload',
      method: 'POST',
      headers: { 'content-length': 10 },
    });
    const answer = new Promise<{ status?: number; body?: string; error?: string }>((resolve) => {
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      req.on('error', (e) => resolve({ error: e.message }));
    });
    req.write('12345');
    // The request reached the handler before the stop: the drain counts it as running.
    assert.ok(await line((r) => r.msg === 'upload started'), err);
    p.kill(signal);
    const draining = await line((r) => r.msg === 'http: draining');
    assert.ok(draining, `no drain began: ${JSON.stringify(records)} ${err}`);
    p.kill(signal);
    // The new code says it ignored the repeat; the old one died of it.
    const ignored = await line((r) => r.msg === 'closeOnSignals: already closing, signal ignored');
    req.end('67890');
    const got = await answer;
    const end = await exited;
    assert.ok(ignored, `the second ${signal} was not ignored: ${JSON.stringify(end)}`);
    assert.equal(ignored.signal, signal);
    assert.deepEqual(got, { status: 200, body: 'received 10 bytes' });
    assert.deepEqual(end, { code: 0, signal: null });
  });
}

it('two apps wired to one signal: the process exits only once both have closed', async (t) => {
  const p = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./fixtures/two-apps-child.ts', import.meta.url))],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const kill = setTimeout(() => p.kill('SIGKILL'), 30_000);
  t.after(() => {
    clearTimeout(kill);
    p.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  p.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const ready = new Promise<void>((resolve) =>
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready\n')) resolve();
    }),
  );
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
  await Promise.race([ready, exited]);
  assert.ok(out.includes('ready\n'), `child did not start: ${err}`);
  p.kill('SIGTERM');
  const code = await exited;
  // The old code exited as soon as app "a" had closed, in the middle of app "b"'s close.
  assert.deepEqual(out.trim().split('\n'), ['ready', 'a closed', 'b closed', 'exit 0'], err);
  assert.equal(code, 0);
});

it('SIGTERM during a close started from code: the process exits once that close is done', async (t) => {
  // The signal was taken for a repeat ("already closing, signal ignored"): after the close the
  // process went on running (here: a worker loop the app does not own) until a SIGKILL.
  const p = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./fixtures/signal-during-close-child.ts', import.meta.url))],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const kill = setTimeout(() => p.kill('SIGKILL'), 30_000);
  t.after(() => {
    clearTimeout(kill);
    p.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  p.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const closing = new Promise<void>((resolve) =>
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('closing\n')) resolve();
    }),
  );
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
  await Promise.race([closing, exited]);
  assert.ok(out.includes('closing\n'), `child did not start closing: ${err}`);
  p.kill('SIGTERM');
  const code = await exited;
  assert.deepEqual(out.trim().split('\n'), ['closing', 'slow closed', 'closed from code', 'exit 0'], err);
  assert.equal(code, 0);
});
