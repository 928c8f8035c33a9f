/**
 * One trace as a tree, from either source the demo has: the spans an in-memory exporter kept, or
 * a trace read back from Jaeger's query API. Rendered as an indented text tree for the summary.
 */
import type { FinishedSpan as ReadableSpan } from '../lib/tracing/otel/index.js';

/** The fields of a span the tree needs, whatever its source. */
export interface TreeSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentId: string | undefined;
  readonly service: string;
  readonly name: string;
  readonly kind: string;
  /** Start, µs since the epoch. */
  readonly startUs: number;
  readonly durationUs: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly error: boolean;
}

const KIND_NAMES = ['internal', 'server', 'client', 'producer', 'consumer'];

/** From OpenTelemetry SDK spans (the memory exporter). */
export function fromReadableSpans(spans: readonly ReadableSpan[]): TreeSpan[] {
  return spans.map((s) => ({
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentId: s.parentSpanContext?.spanId,
    service: String(s.resource.attributes['service.name'] ?? '?'),
    name: s.name,
    kind: KIND_NAMES[s.kind] ?? 'internal',
    startUs: s.startTime[0] * 1e6 + s.startTime[1] / 1e3,
    durationUs: s.duration[0] * 1e6 + s.duration[1] / 1e3,
    attributes: s.attributes,
    error: s.status.code === 2,
  }));
}

/** A trace as Jaeger's `/api/traces/{id}` returns it (`data[0]`). */
export interface JaegerTraceJson {
  traceID: string;
  spans: {
    traceID: string;
    spanID: string;
    operationName: string;
    references: { refType: string; spanID: string }[];
    startTime: number;
    duration: number;
    tags: { key: string; value: unknown }[];
    processID: string;
  }[];
  processes: Record<string, { serviceName: string }>;
}

/** From Jaeger's query API. */
export function fromJaeger(trace: JaegerTraceJson): TreeSpan[] {
  return trace.spans.map((s) => {
    const tags = Object.fromEntries(s.tags.map((t) => [t.key, t.value]));
    return {
      traceId: s.traceID,
      spanId: s.spanID,
      parentId: s.references.find((r) => r.refType === 'CHILD_OF')?.spanID,
      service: trace.processes[s.processID]?.serviceName ?? '?',
      name: s.operationName,
      kind: String(tags['span.kind'] ?? 'internal'),
      startUs: s.startTime,
      durationUs: s.duration,
      attributes: tags,
      error: tags.error === true || tags['otel.status_code'] === 'ERROR',
    };
  });
}

export interface TreeNode {
  readonly span: TreeSpan;
  readonly children: TreeNode[];
}

/** Roots of the spans of one trace (a span whose parent is missing counts as a root), children by start time. */
export function buildTree(spans: readonly TreeSpan[]): TreeNode[] {
  const nodes = new Map(spans.map((s) => [s.spanId, { span: s, children: [] as TreeNode[] }]));
  const roots: TreeNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.span.parentId ? nodes.get(node.span.parentId) : undefined;
    (parent ? parent.children : roots).push(node);
  }
  const sort = (list: TreeNode[]) => {
    list.sort((a, b) => a.span.startUs - b.span.startUs);
    for (const n of list) sort(n.children);
  };
  sort(roots);
  return roots;
}

/** Spans grouped by trace id. */
export function groupByTrace(spans: readonly TreeSpan[]): Map<string, TreeSpan[]> {
  const traces = new Map<string, TreeSpan[]>();
  for (const s of spans) {
    const list = traces.get(s.traceId);
    if (list) list.push(s);
    else traces.set(s.traceId, [s]);
  }
  return traces;
}

/** The short detail shown after a span's name: what it hit, what it queried, what it answered. */
function detail(s: TreeSpan): string {
  const a = s.attributes;
  const bits: string[] = [];
  if (a['cache.hit'] !== undefined) bits.push(a['cache.hit'] ? `hit ${a['cache.layer']}` : 'miss');
  if (a['db.statement'] !== undefined) {
    const sql = String(a['db.statement']).replace(/\s+/g, ' ');
    bits.push(sql.length > 40 ? `${sql.slice(0, 39)}…` : sql);
  }
  if (a['http.response.status_code'] !== undefined) bits.push(String(a['http.response.status_code']));
  if (s.error) bits.push('ERROR');
  return bits.join(' · ');
}

/** Renders the trace as lines: `service  name  detail  duration`, indented by depth. */
export function renderTree(roots: readonly TreeNode[]): string[] {
  const rows: { left: string; detail: string; ms: string }[] = [];
  const walk = (n: TreeNode, depth: number) => {
    rows.push({
      left: `${'  '.repeat(depth)}${n.span.service.padEnd(14)} ${n.span.name}`,
      detail: detail(n.span),
      ms: `${(n.span.durationUs / 1000).toFixed(2)} ms`,
    });
    for (const c of n.children) walk(c, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  const w = Math.max(...rows.map((r) => r.left.length));
  const d = Math.max(...rows.map((r) => r.detail.length));
  return rows.map((r) => `${r.left.padEnd(w)}  ${r.detail.padEnd(d)}  ${r.ms.padStart(10)}`);
}
