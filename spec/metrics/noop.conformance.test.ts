import { noopMetrics } from '../../lib/core/noop.js';
import { metricsConformance } from '../conformance/metrics.js';

// The no-op metrics record nothing (no `scrape`) and time with performance.now, not the given clock.
metricsConformance('noop', () => ({ metrics: noopMetrics, honoursClock: false, close: async () => {} }));
