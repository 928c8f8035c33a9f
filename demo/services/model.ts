/** The demo's data shapes and the validation of `POST /orders`, shared by the gateway and the order service. */
import * as v from 'valibot';
import { HttpError } from '../http.js';

export interface User {
  id: number;
  name: string;
  email: string;
}

export interface OrderItem {
  sku: string;
  quantity: number;
  unitPriceCents: number;
}

export interface Order {
  id: number;
  userId: number;
  items: OrderItem[];
  totalCents: number;
  createdAt: string;
}

/** Largest id (users and orders ids are PostgreSQL `integer`s). */
export const MAX_ID = 2_147_483_647;

/**
 * `v.object` that refuses an array with `message` too. An array passes valibot's object check (to
 * JavaScript it is an object): an order sent wrapped in one (`[{"userId": 1, …}]`) was answered
 * `userId: is required, items: is required`, and an item written as a tuple (`["mug", 1, 500]`)
 * `items.0.sku: is required, …`, as if those keys were missing from an object.
 */
function record<const E extends v.ObjectEntries>(entries: E, message: string) {
  return v.pipe(
    v.custom<unknown>((x) => !Array.isArray(x), message),
    v.object(entries, message),
  );
}

/** Body of `POST /orders`. Unknown keys are dropped. */
export const OrderInput = record(
  {
    // The range of a user id (a PostgreSQL integer, as parseId checks for paths): a bad id is the
    // client's error here at the edge, not a 5xx further down.
    userId: v.pipe(
      v.number('must be a number'),
      v.integer('must be an integer'),
      v.minValue(1, 'must be ≥ 1'),
      v.maxValue(MAX_ID, `must be ≤ ${MAX_ID}`),
    ),
    // The length first: a 64 KB body holds some 21,000 `{}` items, and checking each of them
    // answered a 2.4 MB list of 63,000 "is required" fields (0.7 s of CPU) to be told "at most 20".
    items: v.pipe(
      v.array(v.unknown(), 'must be an array'),
      v.minLength(1, 'must hold at least one item'),
      v.maxLength(20, 'must hold at most 20 items'),
      v.array(
        record(
          {
            sku: v.pipe(
              v.string('must be a string'),
              v.regex(/^[a-z0-9-]{1,32}$/, 'must be 1-32 of a-z, 0-9, -'),
            ),
            quantity: v.pipe(
              v.number('must be a number'),
              v.integer('must be an integer'),
              v.minValue(1, 'must be ≥ 1'),
              v.maxValue(100, 'must be ≤ 100'),
            ),
            unitPriceCents: v.pipe(
              v.number('must be a number'),
              v.integer('must be an integer'),
              v.minValue(1, 'must be ≥ 1'),
              v.maxValue(1_000_000, 'must be ≤ 1000000'),
            ),
          },
          'must be an object',
        ),
        'must be an array',
      ),
    ),
  },
  'must be a JSON object',
);
export type OrderInput = v.InferOutput<typeof OrderInput>;

/** Parses a `POST /orders` body, or throws `HttpError(400)` with `fields: { 'items.0.quantity': [...] }`. */
export function parseOrderInput(body: unknown): OrderInput {
  const r = v.safeParse(OrderInput, body);
  if (r.success) return r.output;
  const fields: Record<string, string[]> = {};
  for (const issue of r.issues) {
    const path = v.getDotPath(issue) ?? '$';
    // A missing key reports the enclosing object's message; say what is actually wrong.
    const message = issue.received === 'undefined' && path !== '$' ? 'is required' : issue.message;
    const list = fields[path] ?? [];
    list.push(message);
    fields[path] = list;
  }
  throw new HttpError(400, 'invalid order', { fields });
}

/** A positive 32-bit id from a path segment, or `HttpError(400)`. */
export function parseId(raw: string | undefined, field = 'id'): number {
  const n = Number(raw);
  if (!raw || !/^\d{1,10}$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > MAX_ID)
    throw new HttpError(400, `invalid ${field}`, { fields: { [field]: ['must be a positive integer'] } });
  return n;
}
