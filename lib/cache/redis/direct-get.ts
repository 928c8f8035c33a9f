/**
 * The GET of `cache.get` without a promise of our own. A `.then` on the client's promise (to turn
 * `null` into `undefined`, count the hit or miss and map a failure) added a promise and a reaction
 * per GET: measured alone (raw iovalkey GET + one `.then`, concurrency 64) that was +3.4 % client
 * CPU and −7 % throughput, so the 3 % goal of issue 14 could not be met with it. Here the command
 * is iovalkey's own `Command` (the documented `sendCommand(new Command(…))` path) whose reply
 * transform does that work inside the client's promise, and whose `reject` maps the failure: the
 * caller awaits exactly the promise a raw `getBuffer` returns.
 *
 * Used only on a plain connection (no auto-pipelining, which batches through its own pipeline).
 */
import type { Command } from 'iovalkey';
import type { Bytes } from '../../core/contracts.js';
import { iovalkey } from './peer.js';

/** What a direct GET does when it settles; `fail` returns the error to reject with (mapped). */
export interface DirectGetHooks {
  /** The reply arrived: count it and return what `get` resolves with. */
  reply(value: Buffer | null): Bytes | undefined;
  /** The command failed (error reply, timeout, lost connection): the error to reject with. */
  fail(err: unknown, key: string): Error;
}

type DirectGetClass = new (key: string, hooks: DirectGetHooks) => Command;

/** Defined on first use: it extends iovalkey's `Command`, which is loaded only then (./peer.ts). */
function defineDirectGet(): DirectGetClass {
  return class DirectGet extends iovalkey().Command {
    /** Set by the first settlement: a reply arriving after a timeout rejected is not counted again. */
    private settled: boolean;
    private readonly hooks: DirectGetHooks;

    constructor(key: string, hooks: DirectGetHooks) {
      // What `getBuffer(key)` builds (reply as a Buffer; no iovalkey key prefix: ours is in `key`,
      // and options.ts refuses an injected client that has its own).
      super('get', [key], { replyEncoding: null });
      this.settled = false;
      this.hooks = hooks;
      const reject = this.reject;
      this.reject = (err: Error) => {
        if (this.settled) return reject(err);
        this.settled = true;
        reject(hooks.fail(err, key));
      };
    }

    override transformReply(result: Buffer | Buffer[]): Buffer {
      const value = super.transformReply(result) as Buffer | null;
      if (this.settled) return value as Buffer;
      this.settled = true;
      return this.hooks.reply(value) as Buffer;
    }
  };
}

let DirectGet: DirectGetClass | undefined;

/** Sends GET `key` on `client`; the promise resolves with the hook's mapped reply. */
export function directGet(
  client: { sendCommand(command: Command): unknown },
  key: string,
  hooks: DirectGetHooks,
): Promise<Bytes | undefined> {
  DirectGet ??= defineDirectGet();
  const command = new DirectGet(key, hooks);
  client.sendCommand(command);
  return command.promise as Promise<Bytes | undefined>;
}
