/**
 * Cross-instance coherence: the fence that keeps a slow read from putting a value back into L1
 * after that key was invalidated. The bus contract (`InvalidationBus`) is in the core.
 */

const SLOTS = 4096;

/**
 * Per-key invalidation sequence numbers in a fixed number of hashed slots (bounded memory: a
 * collision only makes a fill be skipped, which is always safe). A reader notes `mark()` before it
 * reads L2 or calls the loader and asks `stillValid(key, mark)` before filling L1.
 */
export interface Fence {
  mark(): number;
  /**
   * A new mark, later than every mark taken so far, with nothing invalidated: reads begun before
   * it can be told apart (`mark < advance()`) while their stores stay valid.
   */
  advance(): number;
  invalidate(key: string): void;
  invalidateAll(): void;
  stillValid(key: string, mark: number): boolean;
}

export function createFence(): Fence {
  const slots = new Float64Array(SLOTS);
  let seq = 0;
  let allAt = 0;
  return {
    mark: () => seq,
    advance: () => ++seq,
    invalidate(key) {
      slots[slot(key)] = ++seq;
    },
    invalidateAll() {
      allAt = ++seq;
    },
    stillValid(key, mark) {
      // Fast path: nothing at all was invalidated since the read began, so no hashing.
      if (seq === mark) return true;
      return allAt <= mark && slots[slot(key)]! <= mark;
    },
  };
}

/** FNV-1a over UTF-16 code units, reduced to a slot index. */
function slot(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (SLOTS - 1);
}
