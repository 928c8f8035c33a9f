/**
 * The options of `drainServer` and their checks, run when the disposer is built: a bad value
 * would otherwise surface only during the shutdown it is meant to make clean (a `NaN` grace cuts
 * every request at once, a `Retry-After: 1.5` header is invalid, an `admit` that is not a function
 * throws on the first late request).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { LoggerLike } from './contracts.js';
import { ConfigError, type ConfigIssue, typeName } from './errors.js';
import { MAX_TIMER_MS, optionKeys, shownDuration, unknownOptionIssues } from './options.js';

export interface DrainOptions {
  /**
   * How long running requests may take once the stop began, ms. Default 5000. This and the other
   * times accept 0 (at once) to 2^31 − 1 ms: longer ones would fire at once in Node.
   */
  graceMs?: number | undefined;
  /**
   * How long the listening socket may stay open once the stop began, ms (default: `graceMs`). It
   * closes as soon as no request is running and no connection arrived for 100 ms: connections the
   * kernel had already queued (a busy process accepts them late) are accepted and answered 503
   * instead of being reset when the listening socket closes.
   */
  lingerMs?: number | undefined;
  /**
   * The listening socket closes once no request ran and no connection arrived for this long, ms;
   * an idle keep-alive connection is ended this long after the drain began (a request already on
   * its way on it gets its 503). Default 100. Longer suits services behind others (with `admit`): peers still finishing their
   * in-flight work keep reaching them.
   */
  quietMs?: number | undefined;
  /**
   * Requests arriving during the drain that are served anyway (with `Connection: close`) instead
   * of getting the 503: e.g. calls from peer services finishing work that was already in flight
   * when the stop began (a call chain stopped all at once then completes). Default: none. A throw
   * counts as `false` (the request gets the 503; one warning to `logger`), and so does a promise:
   * it must answer at once.
   */
  admit?: ((req: IncomingMessage) => boolean) | undefined;
  /** `Retry-After` (whole seconds, ≥ 0) of the 503 sent to requests arriving during the drain. Default 1. */
  retryAfterSeconds?: number | undefined;
  /**
   * Receives one info record when the drain starts, one warning when requests had to be cut:
   * `app.logger`, a pino instance or `console` as it is (only `info` and `warn` are called).
   */
  logger?: Pick<LoggerLike, 'info' | 'warn'> | undefined;
}

const KNOWN = optionKeys<DrainOptions>({
  graceMs: true,
  lingerMs: true,
  quietMs: true,
  admit: true,
  retryAfterSeconds: true,
  logger: true,
});

/** The options with their defaults applied. */
export interface ResolvedDrainOptions {
  graceMs: number;
  lingerMs: number;
  quietMs: number;
  retryAfter: string;
}

/** Largest `Retry-After` accepted, seconds (2^31 − 1: what HTTP caches must at least handle). */
const MAX_RETRY_AFTER_SECONDS = 2 ** 31 - 1;

const isIn = (v: unknown, min: number, max: number, integer = false): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v));

/** Checks `server` and every option at once; throws one `ConfigError` listing all bad fields. */
export function resolveDrainOptions(server: unknown, options: unknown): ResolvedDrainOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('drainServer: options must be an object', [
      { path: '', expected: 'an options object', received: typeName(options), message: 'has the wrong type' },
    ]);
  const o = options as DrainOptions;
  const issues: ConfigIssue[] = [];
  const bad = (path: string, expected: string, value: unknown, message: string, received?: string) =>
    issues.push({
      path,
      expected,
      // Numbers are shown (no option here holds a secret); other values only by type.
      received: received ?? (typeof value === 'number' ? String(value) : typeName(value)),
      message,
    });
  const s = server as Partial<Server> | null | undefined;
  if (typeof s?.on !== 'function' || typeof s.listeners !== 'function')
    bad('server', 'a node:http Server', server, 'must be a node:http, node:https or node:http2 server');
  issues.push(...unknownOptionIssues(options, KNOWN));
  // Timers: 0 is "at once"; above 2^31 − 1 ms Node fires them at once too, so those are refused.
  for (const name of ['graceMs', 'lingerMs', 'quietMs'] as const) {
    const v = o[name];
    if (v !== undefined && !isIn(v, 0, MAX_TIMER_MS))
      bad(
        name,
        `a number of ms from 0 to ${MAX_TIMER_MS}`,
        v,
        `${name} must be a finite number of ms from 0 to ${MAX_TIMER_MS} (about 24.8 days)`,
        shownDuration(v),
      );
  }
  if (o.admit !== undefined && typeof o.admit !== 'function')
    bad('admit', 'a function (req) => boolean', o.admit, 'admit must be a function');
  // `Retry-After` is a whole number of seconds (RFC 9110 §10.2.3).
  if (o.retryAfterSeconds !== undefined && !isIn(o.retryAfterSeconds, 0, MAX_RETRY_AFTER_SECONDS, true))
    bad(
      'retryAfterSeconds',
      `an integer from 0 to ${MAX_RETRY_AFTER_SECONDS}`,
      o.retryAfterSeconds,
      'retryAfterSeconds must be a whole number of seconds ≥ 0',
    );
  const logger = o.logger as { info?: unknown; warn?: unknown } | null | undefined;
  if (
    o.logger !== undefined &&
    (typeof logger !== 'object' ||
      logger === null ||
      typeof logger.info !== 'function' ||
      typeof logger.warn !== 'function')
  )
    bad('logger', 'a Logger (info and warn functions)', o.logger, 'logger must have info and warn methods');
  if (issues.length > 0) throw new ConfigError('drainServer: invalid options', issues);
  const graceMs = o.graceMs ?? 5000;
  return {
    graceMs,
    lingerMs: o.lingerMs ?? graceMs,
    quietMs: o.quietMs ?? 100,
    retryAfter: String(o.retryAfterSeconds ?? 1),
  };
}
