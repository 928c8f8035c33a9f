/**
 * Runs one demo service as its own program (the compose stack does this), configured from the
 * environment (see demo/README.md): PORT, HOST, DATABASE_URL, REDIS_URL, USER_SERVICE_URL,
 * ORDER_SERVICE_URL, OTEL_EXPORTER_OTLP_ENDPOINT / HYPERION_TRACING_ENDPOINT, HYPERION_SAMPLE_RATE,
 * LOG_LEVEL, CALL_TIMEOUT_MS. Closes cleanly on SIGTERM/SIGINT/SIGHUP.
 */
import { envPort, hostError, readEnv, serviceUrl } from './env.js';
import { DEFAULT_PORTS, type ServiceName, startService } from './services/index.js';

export async function runStandalone(name: ServiceName): Promise<void> {
  const env = readEnv();
  const port = envPort('PORT', DEFAULT_PORTS[name]);
  const userUrl = serviceUrl('USER_SERVICE_URL', `http://127.0.0.1:${DEFAULT_PORTS['user-service']}`);
  const orderUrl = serviceUrl('ORDER_SERVICE_URL', `http://127.0.0.1:${DEFAULT_PORTS['order-service']}`);
  // Listening from before the start (a database connect can take seconds): a signal then found no
  // handler and killed the process by its default action — or, as PID 1 in a container (the
  // Dockerfile runs node directly), was ignored by the kernel, so `docker stop` waited for its
  // SIGKILL. It is remembered and acted on once the service is up. One listener per signal, never
  // swapped: a signal pending while the start blocked the event loop would be lost with the old one.
  let startSignal: string | undefined;
  let onSignal = (signal: string) => {
    startSignal ??= signal;
  };
  // SIGHUP too (a terminal that hung up, an ssh session lost; supervisors send it): it killed the
  // service at once, without the drain, and the spans still queued for the collector were lost.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => onSignal(signal));
  const service = await startService({
    name,
    port,
    host: env.host,
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
    // A long-running service without a collector records nothing (a memory exporter would grow
    // without bound); trace context is still passed on to the next service.
    tracing: env.tracingEndpoint
      ? { exporter: 'otlp', endpoint: env.tracingEndpoint, sampleRate: env.sampleRate }
      : { exporter: 'none' },
    peers: { user: () => userUrl, order: () => orderUrl },
    logger: env.logLevel ?? 'info',
    callTimeoutMs: env.callTimeoutMs,
  }).catch((err: unknown) => {
    throw hostError(err, env.host);
  });
  if (!env.tracingEndpoint)
    service.app.logger.warn('no OTLP endpoint set (OTEL_EXPORTER_OTLP_ENDPOINT): spans are not recorded');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A repeated signal must not end the drain (with `once` the second one killed the process
      // and reset the requests still running); the close is bounded by its own budgets.
      service.app.logger.info('already stopping', { signal });
      return;
    }
    stopping = true;
    service.app.logger.info('stopping', { signal });
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        service.app.logger.error('close failed', { error: err });
        process.exit(1);
      },
    );
  };
  onSignal = stop;
  if (startSignal) stop(startSignal);
}

/** Entry point helper: runs `name`, exits with a message when it cannot start. */
export function main(name: ServiceName): void {
  runStandalone(name).catch((err: unknown) => {
    process.stderr.write(`${name} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
