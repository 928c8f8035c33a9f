import { noopTracer } from '../../lib/core/noop.js';
import { tracerConformance } from '../conformance/tracer.js';

// The no-op tracer records nothing (no `read`) and passes W3C trace context through, not baggage.
tracerConformance('noop', () => ({ tracer: noopTracer, propagatesBaggage: false, close: async () => {} }));
