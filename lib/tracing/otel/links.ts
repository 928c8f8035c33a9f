/**
 * `SpanOptions.links` as the SDK takes them (OpenTelemetry span links). Each link's context is
 * checked as a received `traceparent`'s ids are — 32 and 16 lowercase hex digits, not all zeros —
 * and its `tracestate` as a received header is (`traceStateFrom`: an invalid one is dropped); a
 * link's attributes go through the span attribute filter (unsupported values dropped, non-finite
 * numbers as strings, one warning per key). A link that cannot be used (no valid context, an
 * entry that is not an object or throws when read) is dropped with one warning per tracer and
 * reason, never thrown into the request: an exporter would send the invalid ids as they are, and
 * a collector shows a reference to a span that cannot exist.
 */
import type { Link } from '@opentelemetry/api';
import type { Attributes, SpanContext } from '../../core/contracts.js';
import type { AttributeFilter } from './attributes.js';
import { traceStateFrom } from './tracecontext.js';

const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;
const SPAN_ID = /^(?!0{16})[0-9a-f]{16}$/;

/** The SDK's links for `links` (`undefined` when none is usable). */
export function otelLinks(links: unknown, filter: AttributeFilter): Link[] | undefined {
  if (!Array.isArray(links)) {
    filter.droppedLink('links is not an array');
    return undefined;
  }
  const out: Link[] = [];
  let entries: unknown[];
  try {
    entries = Array.from(links as unknown[]); // a Proxy array whose iteration throws: none
  } catch {
    filter.droppedLink('unreadable (a getter or Proxy threw)');
    return undefined;
  }
  for (const link of entries) {
    try {
      if (typeof link !== 'object' || link === null) {
        filter.droppedLink('not a { context, attributes? } object');
        continue;
      }
      const { context, attributes } = link as { context?: unknown; attributes?: unknown };
      // A span context or a span given as the link itself (`links: [span.spanContext()]`, as if
      // links were contexts): said so, where the warning blamed the ids of a context never given.
      // (Our spans have a `context()` method of their own.)
      if (
        (context === undefined || typeof context === 'function') &&
        ('traceId' in link || 'spanContext' in link)
      ) {
        filter.droppedLink(
          'a span context or span given as the link: a link is { context: span.spanContext(), attributes? }',
        );
        continue;
      }
      const sc = context as SpanContext | null | undefined;
      if (
        typeof sc !== 'object' ||
        sc === null ||
        typeof sc.traceId !== 'string' ||
        typeof sc.spanId !== 'string' ||
        !TRACE_ID.test(sc.traceId) ||
        !SPAN_ID.test(sc.spanId)
      ) {
        filter.droppedLink('context has no valid trace id and span id (lowercase hex, not all zeros)');
        continue;
      }
      const flags = sc.traceFlags;
      const traceState = typeof sc.traceState === 'string' ? traceStateFrom(sc.traceState) : undefined;
      const usable = attributes !== undefined && filter.usable(attributes);
      out.push({
        context: {
          traceId: sc.traceId,
          spanId: sc.spanId,
          // Only the bits a sender may set (sampled, W3C Level 2 random), as in a traceparent.
          traceFlags: Number.isInteger(flags) ? flags & 0x03 : 0,
          ...(sc.isRemote === true ? { isRemote: true } : {}),
          ...(traceState ? { traceState } : {}),
        },
        ...(usable ? { attributes: filter.filter(attributes as Attributes) } : {}),
      });
    } catch {
      filter.droppedLink('unreadable (a getter or Proxy threw)');
    }
  }
  return out.length > 0 ? out : undefined;
}
