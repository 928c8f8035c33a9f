/**
 * `closeOnSignals` in a worker thread. Node delivers signals to the main thread only, so the
 * handlers it installs in a worker never run: a SIGTERM ended the process with the worker's app
 * never closed (no drain, no final span export), and nothing said so. It now warns, once per
 * thread, with the way out: wire it in the main thread and have that tell the worker to close.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Worker } from 'node:worker_threads';

it('wired in a worker thread: one HyperionSignalWarning saying signals never reach it', async () => {
  const worker = new Worker(new URL('./fixtures/worker-boot.mjs', import.meta.url), {
    workerData: { file: new URL('./fixtures/signals-worker-child.ts', import.meta.url).href },
  });
  const warnings = await new Promise<{ name: string; code: unknown; message: string }[]>(
    (resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the worker did not report within 30 s')), 30_000);
      worker.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      worker.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    },
  );
  await worker.terminate();
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.equal(warnings[0]?.name, 'HyperionSignalWarning');
  assert.equal(warnings[0]?.code, 'HYPERION_SIGNALS_IN_WORKER');
  assert.match(warnings[0]?.message ?? '', /main thread/);
});
