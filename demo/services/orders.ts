/**
 * The order service: `GET /users/:id/orders` (read-through tiered cache over `orders`) and
 * `POST /orders` (validated, user checked with the user service, written in one transaction,
 * cache invalidated, business metrics recorded).
 */
import type { Metrics } from '../../lib/core/contracts.js';
import { type CacheLayers, invalidate, readThrough } from '../caching.js';
import type { DataAccess } from '../db.js';
import { callService, downstreamStatus, HttpError, type Route, retryAfterOf } from '../http.js';
import { type Order, type OrderItem, parseId, parseOrderInput } from './model.js';

export interface OrderServiceDeps {
  data: DataAccess;
  layers: CacheLayers;
  metrics: Metrics;
  /** Base URL of the user service. */
  userServiceUrl: () => string;
  /** Fresh lifetime of a cached order list, ms. */
  ttlMs: number;
}

interface OrderRow {
  id: string | number;
  user_id: number;
  items: StoredItem[] | string;
  total_cents: number;
  created_at: string;
}

/**
 * An item as stored. Databases seeded before the seed used the API's names hold
 * `unit_price_cents` (the seed runs only on an empty table, so they keep it).
 */
type StoredItem = OrderItem | (Omit<OrderItem, 'unitPriceCents'> & { unit_price_cents: number });

const toItem = (i: StoredItem): OrderItem =>
  'unit_price_cents' in i ? { sku: i.sku, quantity: i.quantity, unitPriceCents: i.unit_price_cents } : i;

const toOrder = (r: OrderRow): Order => ({
  id: Number(r.id),
  userId: r.user_id,
  items: (typeof r.items === 'string' ? (JSON.parse(r.items) as StoredItem[]) : r.items).map(toItem),
  totalCents: r.total_cents,
  createdAt: r.created_at,
});

/** Repeated warnings of the same failure are written at most once per this many ms. */
const QUIET_MS = 5000;

/** How often a failed invalidation of an order list is retried, ms. */
const INVALIDATION_RETRY_MS = 1000;

/** Key of a user's order list; `POST /orders` invalidates it. */
export const ordersKey = (userId: number) => `orders:user:${userId}`;

export function orderRoutes(deps: OrderServiceDeps): Route[] {
  const created = deps.metrics.counter({ name: 'orders_created_total', help: 'Orders written' });
  const value = deps.metrics.histogram({
    name: 'order_value_dollars',
    help: 'Value of created orders in dollars',
    buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500],
  });
  let lastInvalidationWarn = -Infinity;
  let suppressedInvalidationWarns = 0;
  /**
   * Order lists whose invalidation failed after an order was written (Redis down, paused or slow
   * past the L2 timeout), with the time their retries end. The Redis cache never lets a timed-out
   * delete land later, so the old list stayed in L2 for its whole TTL (5 min): once Redis answered
   * again, this very instance read it back without the new order (a `docker compose pause redis`
   * for 3 s was enough). Until the delete is retried successfully — all pending keys in one
   * `deleteMany` a second, for at most twice the TTL (the L2 copy, TTL plus jitter, has expired by
   * then) — reads of such a list skip the caches and go to the database.
   */
  const pending = new Map<string, { until: number }>();
  let retrying: NodeJS.Timeout | undefined;
  let inFlight = false;
  const retryPending = async () => {
    const now = Date.now();
    for (const [key, entry] of pending) if (now >= entry.until) pending.delete(key);
    if (pending.size === 0) {
      clearInterval(retrying);
      retrying = undefined;
      return;
    }
    if (inFlight) return;
    inFlight = true;
    const sent = [...pending];
    try {
      await deps.layers.cache.deleteMany(sent.map(([key]) => key));
      // A key that failed again meanwhile has a new entry: it stays.
      for (const [key, entry] of sent) if (pending.get(key) === entry) pending.delete(key);
    } catch (err) {
      // The service is stopping: nothing is left to serve from the cache.
      if ((err as { code?: unknown } | undefined)?.code === 'closed') pending.clear();
    } finally {
      inFlight = false;
    }
  };
  const retryInvalidation = (key: string) => {
    pending.set(key, { until: Date.now() + 2 * deps.ttlMs });
    if (retrying) return;
    retrying = setInterval(() => void retryPending(), INVALIDATION_RETRY_MS);
    retrying.unref();
  };

  return [
    {
      method: 'GET',
      path: '/users/:id/orders',
      handler: async (ctx, req) => {
        const userId = parseId(req.params.id);
        const load = (c: typeof ctx) =>
          deps.data
            .query<OrderRow>(
              c,
              { operation: 'SELECT', table: 'orders' },
              `SELECT id, user_id, items, total_cents, created_at::text AS created_at
               FROM orders WHERE user_id = $1 ORDER BY id DESC LIMIT 50`,
              [userId],
            )
            .then((rows) => rows.map(toOrder));
        // A list whose invalidation is still pending may be stale in L2: read the database.
        if (pending.has(ordersKey(userId))) return { status: 200, body: { orders: await load(ctx) } };
        const { value: orders } = await readThrough(
          ctx,
          deps.layers,
          'orders',
          ordersKey(userId),
          deps.ttlMs,
          load,
        );
        return { status: 200, body: { orders } };
      },
    },
    {
      method: 'POST',
      path: '/orders',
      handler: async (ctx, req) => {
        const input = parseOrderInput(req.body);
        const user = await callService(
          ctx,
          { service: 'user-service', baseUrl: deps.userServiceUrl() },
          'GET',
          `/users/${input.userId}`,
          { template: '/users/:id' },
        );
        if (user.status === 404)
          throw new HttpError(422, 'unknown user', { fields: { userId: ['no such user'] } });
        // The user service is unavailable (its database is down, or it is stopping): its 503 and
        // body (`{"error": "database unavailable"}`) are passed on as it said them, as the README
        // documents for every request needing the database (this used to be
        // `{"error": "user service failed", "upstream": 503}`).
        if (user.status === 503 && typeof user.body === 'object' && user.body !== null) {
          const said = user.body as Record<string, unknown>;
          throw new HttpError(503, String(said.error ?? 'user service failed'), said, {
            headers: retryAfterOf(user),
          });
        }
        // A user id the user service rejects is the client's error (4xx), not ours (5xx).
        if (user.status !== 200)
          throw new HttpError(
            downstreamStatus(user.status),
            user.status < 500 ? 'invalid user' : 'user service failed',
            user.status < 500
              ? { fields: { userId: ['rejected by the user service'] } }
              : { upstream: user.status },
            { headers: retryAfterOf(user) },
          );

        const totalCents = input.items.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0);
        const order = await deps.data.transaction(ctx, 'transaction create_order', async (q) => {
          const [row] = await q<OrderRow>(
            { operation: 'INSERT', table: 'orders' },
            `INSERT INTO orders (user_id, items, total_cents) VALUES ($1, $2::jsonb, $3)
               RETURNING id, user_id, items, total_cents, created_at::text AS created_at`,
            [input.userId, JSON.stringify(input.items), totalCents],
          );
          await q(
            { operation: 'INSERT', table: 'order_events' },
            "INSERT INTO order_events (order_id, kind) VALUES ($1, 'created')",
            [row!.id],
          );
          return toOrder(row!);
        });
        // After the commit: a reader that refilled the cache meanwhile is overwritten by the delete.
        try {
          await invalidate(ctx, deps.layers, ordersKey(input.userId));
          // A later write's invalidation went through: an earlier retry of this key is moot.
          pending.delete(ordersKey(input.userId));
        } catch (err) {
          retryInvalidation(ordersKey(input.userId));
          // The order is committed; a failed invalidation must not turn it into an error. At
          // least this instance's L1 must not keep serving the old list.
          // While Redis is down every write fails this way: logged at most once per 5 s (the
          // span of each one records its error), with the count left out.
          const now = Date.now();
          if (now - lastInvalidationWarn >= QUIET_MS) {
            lastInvalidationWarn = now;
            ctx.logger.warn('cache invalidation failed', {
              key: ordersKey(input.userId),
              error: err,
              ...(suppressedInvalidationWarns ? { suppressed: suppressedInvalidationWarns } : {}),
            });
            suppressedInvalidationWarns = 0;
          } else suppressedInvalidationWarns++;
          await deps.layers.l1.delete(ordersKey(input.userId)).catch(() => false);
        }
        created.inc();
        const traceId = ctx.span?.spanContext().traceId;
        const sampled = ((ctx.span?.spanContext().traceFlags ?? 0) & 1) === 1;
        if (traceId && sampled) value.observe({}, totalCents / 100, { trace_id: traceId });
        else value.observe(totalCents / 100);
        ctx.span?.setAttributes({
          'order.id': order.id,
          'order.total_cents': totalCents,
          'user.id': input.userId,
        });
        return { status: 201, body: order };
      },
    },
  ];
}
