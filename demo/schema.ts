/**
 * Schema and seed data of the demo. Each service creates its own tables on start; both statements
 * are idempotent and serialised by an advisory lock, so several instances (or both services on
 * one database) can start at the same time.
 */
import type { Db } from './db.js';

/** Number of seeded users: ids 1..SEED_USERS. */
export const SEED_USERS = 200;

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia', 'Leslie'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Perlman'];
const SKUS = ['book', 'pen', 'lamp', 'mug', 'desk', 'chair', 'cable', 'plant'];

async function locked(db: Db, key: number, statements: string[]): Promise<void> {
  await db.transaction(
    async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [key]);
      for (const s of statements) await tx.query(s);
    },
    { unbounded: true },
  ); // the lock may be held by another instance seeding: no query timeout
}

/** Creates the `users` table and seeds it (owner: the user service). */
export async function migrateUsers(db: Db): Promise<void> {
  const rows: string[] = [];
  for (let id = 1; id <= SEED_USERS; id++) {
    const first = FIRST[id % FIRST.length]!;
    const last = LAST[(id * 7) % LAST.length]!;
    rows.push(`(${id}, '${first} ${last}', '${first.toLowerCase()}.${last.toLowerCase()}${id}@example.com')`);
  }
  await locked(db, 81_001, [
    `CREATE TABLE IF NOT EXISTS users (
       id integer PRIMARY KEY,
       name text NOT NULL,
       email text NOT NULL UNIQUE,
       created_at timestamptz NOT NULL DEFAULT now()
     )`,
    `INSERT INTO users (id, name, email) VALUES ${rows.join(', ')} ON CONFLICT (id) DO NOTHING`,
  ]);
}

/** Creates `orders` and `order_events` and seeds two orders for every third user (owner: the order service). */
export async function migrateOrders(db: Db): Promise<void> {
  const rows: string[] = [];
  for (let user = 1; user <= SEED_USERS; user += 3) {
    for (let k = 0; k < 2; k++) {
      const sku = SKUS[(user + k) % SKUS.length]!;
      const qty = 1 + ((user + k) % 3);
      const cents = 499 + ((user * 131 + k * 977) % 9000);
      // The API's item shape (OrderItem): seeded orders read back like ones made by POST /orders.
      const items = JSON.stringify([{ sku, quantity: qty, unitPriceCents: cents }]);
      rows.push(`(${user}, '${items}'::jsonb, ${qty * cents})`);
    }
  }
  await locked(db, 81_002, [
    `CREATE TABLE IF NOT EXISTS orders (
       id bigserial PRIMARY KEY,
       user_id integer NOT NULL,
       items jsonb NOT NULL,
       total_cents integer NOT NULL CHECK (total_cents >= 0),
       created_at timestamptz NOT NULL DEFAULT now()
     )`,
    'CREATE INDEX IF NOT EXISTS orders_user_id ON orders (user_id)',
    `CREATE TABLE IF NOT EXISTS order_events (
       id bigserial PRIMARY KEY,
       order_id bigint NOT NULL REFERENCES orders (id),
       kind text NOT NULL,
       at timestamptz NOT NULL DEFAULT now()
     )`,
    // Seed only an empty table, so restarts do not duplicate orders.
    `INSERT INTO orders (user_id, items, total_cents)
       SELECT * FROM (VALUES ${rows.join(', ')}) AS seed(user_id, items, total_cents)
       WHERE NOT EXISTS (SELECT 1 FROM orders)`,
  ]);
}
