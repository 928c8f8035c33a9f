/**
 * The harness's ports under files that run side by side: `freePort()` stays out of the kernel's
 * ephemeral range (where other files' `listen(0)` and outgoing connections take ports), and
 * `startProcess({ ports })` is ready only once the child itself listens there, not when another
 * server that took the port answers the probe.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort, listensOn, startProcess } from './process.js';

const linux = (() => {
  try {
    readFileSync('/proc/net/tcp');
    return true;
  } catch {
    return false;
  }
})();

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((socket) => socket.destroy());
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/** A child node process that listens on `port` after `delayMs` (exits 3 when the port is taken). */
function childScript(port: number, delayMs: number): string {
  return `setTimeout(() => {
    const s = require('node:net').createServer((c) => c.destroy());
    s.on('error', () => process.exit(3));
    s.listen(${port}, '127.0.0.1');
  }, ${delayMs});
  setInterval(() => {}, 1000);`;
}

describe('ports for servers started by the harness', { skip: !linux && 'needs /proc (Linux)' }, () => {
  it('freePort() picks below the ephemeral range, and the port is free', async () => {
    const [lo] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const p of ports) {
      if ((lo ?? 0) > 30_000) assert.ok(p >= 20_000 && p < 30_000, `port ${p}`);
      const s = await listen(p);
      await new Promise((r) => s.close(r));
    }
  });

  it('listensOn tells the process that holds a listening socket from one that does not', async () => {
    const port = await freePort();
    assert.equal(await listensOn(process.pid, port), false);
    const s = await listen(port);
    try {
      assert.equal(await listensOn(process.pid, port), true);
      // A connection to it is not a listener of its own.
      const other = await freePort();
      assert.equal(await listensOn(process.pid, other), false);
    } finally {
      await new Promise((r) => s.close(r));
    }
  });

  it('a probe answered by another server on the port is not "ready": the child exits and the start fails', async () => {
    const port = await freePort();
    const squatter = await listen(port);
    try {
      await assert.rejects(
        startProcess({
          name: 'late-binder',
          command: process.execPath,
          args: ['-e', childScript(port, 300)],
          ports: [port],
          // The probe sees the squatter at once: without the ownership check this start "succeeds".
          ready: async () => true,
          readyTimeoutMs: 10_000,
        }),
        /late-binder did not start: late-binder exited early/,
      );
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it('the child that listens on its port is ready', async () => {
    const port = await freePort();
    const proc = await startProcess({
      name: 'binder',
      command: process.execPath,
      args: ['-e', childScript(port, 200)],
      ports: [port],
      ready: async () => true,
      readyTimeoutMs: 10_000,
    });
    try {
      assert.equal(await listensOn(proc.child.pid as number, port), true);
    } finally {
      await proc.kill();
    }
  });

  /** Port `target` as the first pick of `freePort()` in another process (its Math.random steered). */
  async function pickInChild(target: number): Promise<number> {
    const harness = new URL('./process.ts', import.meta.url).href;
    const code = `
      const [lo] = require('node:fs').readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\\s+/).map(Number);
      const top = Math.min(30000, lo);
      const real = Math.random;
      let first = true;
      Math.random = () => (first ? ((first = false), (${target} - 20000 + 0.5) / (top - 20000)) : real());
      import(${JSON.stringify(harness)}).then(async (h) => console.log(await h.freePort()));`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '-e', code], (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    return Number(out.trim());
  }

  it('a port freePort() handed out is never handed out by another process while this one lives', async () => {
    const mine = await freePort();
    assert.equal(readFileSync(join(tmpdir(), 'hyperion-ports', String(mine)), 'utf8'), String(process.pid));
    // Kept closed on purpose (a server that is down): another file's pick must not land on it.
    assert.notEqual(await pickInChild(mine), mine);
    // The steering works: a port nobody holds is the other process's first pick.
    let other = 20_001;
    while (existsSync(join(tmpdir(), 'hyperion-ports', String(other)))) other++;
    assert.equal(await pickInChild(other), other);
    // …and that process released it when it exited.
    assert.equal(existsSync(join(tmpdir(), 'hyperion-ports', String(other))), false);
  });

  it('a reservation left by a process that died (SIGKILL) is taken over', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    assert.ok(dead);
    let port = 20_001;
    while (existsSync(join(tmpdir(), 'hyperion-ports', String(port)))) port++;
    mkdirSync(join(tmpdir(), 'hyperion-ports'), { recursive: true });
    writeFileSync(join(tmpdir(), 'hyperion-ports', String(port)), String(dead));
    assert.equal(await pickInChild(port), port);
  });
});
