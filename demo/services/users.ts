/**
 * The user service: `GET /users/:id` (read-through tiered cache over the `users` table) and
 * `GET /users/:id/orders` (the user plus their orders, fetched from the order service).
 */
import type { AppContext } from '../../lib/core/context.js';
import type { Metrics } from '../../lib/core/contracts.js';
import { type CacheLayers, readThrough } from '../caching.js';
import type { DataAccess } from '../db.js';
import { callService, downstreamStatus, HttpError, type Route, retryAfterOf } from '../http.js';
import { type Order, parseId, type User } from './model.js';

export interface UserServiceDeps {
  data: DataAccess;
  layers: CacheLayers;
  metrics: Metrics;
  /** Base URL of the order service (read per call: peers may be wired after start). */
  orderServiceUrl: () => string;
  /** Fresh lifetime of a cached user, ms. */
  ttlMs: number;
}

export function userRoutes(deps: UserServiceDeps): Route[] {
  const lookups = deps.metrics.counter({
    name: 'user_lookups_total',
    help: 'User lookups by result: hit (served from a cache), miss (loaded from the database), not_found, error (the lookup failed: database down or unreachable, a bug)',
    labelNames: ['result'],
  });
  // Every result from the start, at 0: a series born at its first lookup (the first `error` once
  // the database went down) had no earlier sample, and rate()/increase() read that lookup as 0.
  for (const result of ['hit', 'miss', 'not_found', 'error'] as const) lookups.inc({ result }, 0);

  const findUser = async (ctx: AppContext, id: number): Promise<User> => {
    let result: 'hit' | 'miss' | 'not_found' | 'error' = 'not_found';
    try {
      const { value, source } = await readThrough(
        ctx,
        deps.layers,
        'user',
        `user:${id}`,
        deps.ttlMs,
        async (c) => {
          const rows = await deps.data.query<User>(
            c,
            { operation: 'SELECT', table: 'users' },
            'SELECT id, name, email FROM users WHERE id = $1',
            [id],
          );
          // Not cached: the error reaches every waiting caller and the next lookup asks again.
          if (!rows[0]) throw new HttpError(404, 'user not found', { id });
          return rows[0];
        },
      );
      result = source === 'origin' ? 'miss' : 'hit';
      ctx.span?.setAttributes({ 'user.id': id });
      return value;
    } catch (err) {
      // A lookup that failed (the database down, a timeout) is no miss: counted as one, a dead
      // database looked like a cold cache on the dashboard and the failures could not be told apart.
      if (!(err instanceof HttpError && err.status === 404)) result = 'error';
      throw err;
    } finally {
      lookups.inc({ result });
    }
  };

  return [
    {
      method: 'GET',
      path: '/users/:id',
      handler: async (ctx, req) => ({ status: 200, body: await findUser(ctx, parseId(req.params.id)) }),
    },
    {
      method: 'GET',
      path: '/users/:id/orders',
      handler: async (ctx, req) => {
        const id = parseId(req.params.id);
        const user = await findUser(ctx, id);
        const orders = await callService<{ orders: Order[] }>(
          ctx,
          { service: 'order-service', baseUrl: deps.orderServiceUrl() },
          'GET',
          `/users/${id}/orders`,
          { template: '/users/:id/orders' },
        );
        // The order service is unavailable (its database is down): its 503 and body
        // (`{"error": "database unavailable"}`) are passed on as it said them, as the README
        // documents for every request needing the database. With the user cached and the order
        // list not (a write invalidated it), this was `{"error": "order service failed", "upstream": 503}`.
        if (orders.status === 503 && typeof orders.body === 'object' && orders.body !== null) {
          const said = orders.body as Record<string, unknown>;
          throw new HttpError(503, String(said.error ?? 'order service failed'), said, {
            headers: retryAfterOf(orders),
          });
        }
        if (orders.status !== 200)
          throw new HttpError(
            downstreamStatus(orders.status),
            'order service failed',
            { upstream: orders.status },
            { headers: retryAfterOf(orders) },
          );
        return { status: 200, body: { user, orders: orders.body.orders } };
      },
    },
  ];
}
