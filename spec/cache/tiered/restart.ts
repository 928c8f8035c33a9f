/**
 * Starts redis-server on a given port (the harness picks free ports; an outage test needs the
 * same address back after a kill so that clients reconnect by themselves).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findBinary, startProcess, tempDir } from '../../harness/process.js';
import { redisCommand } from '../../harness/redis.js';

export async function startRedisOnPort(
  port: number,
): Promise<{ stop(): Promise<void>; kill(): Promise<void> }> {
  const dir = await tempDir('redis-restart');
  const conf = join(dir.path, 'redis.conf');
  await writeFile(
    conf,
    [
      'bind 127.0.0.1',
      `port ${port}`,
      `dir "${dir.path}"`,
      'protected-mode no',
      'save ""',
      'appendonly no',
      'logfile ""',
      '',
    ].join('\n'),
  );
  try {
    const server = await startProcess({
      name: `redis:${port}`,
      command: findBinary('redis-server') ?? 'redis-server',
      args: [conf],
      ready: async () => (await redisCommand(port, ['PING']).catch(() => '')) === 'PONG',
      ports: [port],
      readyTimeoutMs: 10_000,
    });
    return {
      kill: () => server.kill(),
      stop: async () => {
        await server.stop(2000);
        await dir.remove();
      },
    };
  } catch (err) {
    await dir.remove();
    throw err;
  }
}
