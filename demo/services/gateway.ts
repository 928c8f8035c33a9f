/**
 * The API gateway: the public routes, forwarded to the user and order services. It keeps user
 * profiles in an L1 memory cache (short TTL) and validates `POST /orders` before forwarding, so
 * bad input never leaves the edge.
 */
import type { AppContext } from '../../lib/core/context.js';
import { type CacheLayers, readThrough } from '../caching.js';
import { type CallResult, callService, HttpError, type Reply, type Route, retryAfterOf } from '../http.js';
import { parseId, parseOrderInput } from './model.js';

export interface GatewayDeps {
  layers: CacheLayers;
  userServiceUrl: () => string;
  orderServiceUrl: () => string;
  /** Lifetime of a cached user profile, ms. */
  ttlMs: number;
}

/** Forwards a downstream answer unchanged (status, JSON body, and a 503's `Retry-After`). */
const forward = (r: CallResult): Reply => ({ status: r.status, body: r.body, headers: retryAfterOf(r) });

export function gatewayRoutes(deps: GatewayDeps): Route[] {
  const user = () => ({ service: 'user-service', baseUrl: deps.userServiceUrl() });
  const order = () => ({ service: 'order-service', baseUrl: deps.orderServiceUrl() });
  const fetchUser = async (ctx: AppContext, id: number) => {
    const r = await callService(ctx, user(), 'GET', `/users/${id}`, { template: '/users/:id' });
    // Only successes are cached: a 404 or 5xx travels back without being remembered.
    if (r.status !== 200)
      throw new HttpError(r.status, 'upstream answered', { upstream: r.body }, { headers: retryAfterOf(r) });
    return r.body;
  };
  return [
    {
      method: 'GET',
      path: '/users/:id',
      handler: async (ctx, req) => {
        const id = parseId(req.params.id);
        try {
          const { value } = await readThrough(ctx, deps.layers, 'user', `user:${id}`, deps.ttlMs, (c) =>
            fetchUser(c, id),
          );
          return { status: 200, body: value };
        } catch (err) {
          // The user service's answer is passed on as it said it, like /users/:id/orders does: a
          // 5xx (database unavailable) used to come back wrapped as {"error": "upstream answered",
          // "upstream": {…}}. A 5xx returned here still marks the server span as an error.
          if (err instanceof HttpError && 'upstream' in err.body)
            return { status: err.status, body: err.body.upstream, headers: err.headers };
          throw err;
        }
      },
    },
    {
      method: 'GET',
      path: '/users/:id/orders',
      handler: async (ctx, req) =>
        forward(
          await callService(ctx, user(), 'GET', `/users/${parseId(req.params.id)}/orders`, {
            template: '/users/:id/orders',
          }),
        ),
    },
    {
      method: 'POST',
      path: '/orders',
      handler: async (ctx, req) => {
        const input = parseOrderInput(req.body);
        return forward(
          await callService(ctx, order(), 'POST', '/orders', { template: '/orders', body: input }),
        );
      },
    },
  ];
}
