/**
 * The one-slot rule of cluster transactions: Redis Cluster runs a transaction on one node, so
 * every key of it — watched and queued — must hash to the same slot. Checked before anything is
 * sent, with an error that names the keys and explains hash tags.
 */
import { CacheError } from '../../../core/errors.js';
import { keySlot } from '../slots.js';

/** Keys listed in the error at most; the rest are counted. */
const SHOWN = 6;

export interface SlotCheck {
  /** Adds a key (without the prefix); throws CacheError `cross_slot` when its slot differs. */
  add(key: string): void;
  /** The slot of the first key added; `undefined` before any. */
  readonly slot: number | undefined;
}

export function createSlotCheck(prefix: string): SlotCheck {
  const seen: { key: string; slot: number }[] = [];
  let first: number | undefined;
  return {
    add(key) {
      const slot = keySlot(prefix + key);
      seen.push({ key, slot });
      first ??= slot;
      if (slot !== first) throw crossSlotError(seen);
    },
    get slot() {
      return first;
    },
  };
}

/** `keys` are the caller's keys (without prefix), each with the slot of its full key. */
function crossSlotError(keys: readonly { key: string; slot: number }[]): CacheError {
  const seen = new Set<number>();
  const shown: string[] = [];
  for (const k of keys) {
    if (seen.has(k.slot)) continue;
    seen.add(k.slot);
    // Quoted as JSON: a key with a quote or a line break was printed raw, its bounds unclear.
    shown.push(`${JSON.stringify(k.key)} (slot ${k.slot})`);
  }
  const list =
    shown.length > SHOWN
      ? `${shown.slice(0, SHOWN).join(', ')} and ${shown.length - SHOWN} more`
      : shown.join(', ');
  return new CacheError(
    'cross_slot',
    `transaction keys hash to different cluster slots: ${list}. In cluster mode every key of one ` +
      'transaction (watched and queued) must hash to the same slot. Give related keys a common hash ' +
      'tag — the part inside the first {…} is the only part hashed — e.g. "{user:1}:profile" and ' +
      '"{user:1}:settings" always share a slot.',
  );
}
