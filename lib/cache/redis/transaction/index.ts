/**
 * Redis transactions (MULTI/EXEC, optionally WATCH-guarded) on dedicated connections; see
 * ./runner.ts. The cache wires a runner in as `cache.transaction`; users reach the rest through
 * the adapter's entry (../index.ts).
 */
export { type RetryOptions, retryTransaction } from './retry.js';
export { createTransactionRunner } from './runner.js';
export type {
  TransactionBuilder,
  TransactionFn,
  TransactionOptions,
  TransactionResult,
  TransactionRunner,
  TransactionRunnerOptions,
  TransactionValue,
} from './types.js';
