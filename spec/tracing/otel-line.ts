/**
 * The OpenTelemetry JS line this test run uses (2.x from the root install, 3.x from spec/otel3
 * when HYPERION_OTEL_LINE=3), and the SDK's parts built the way the adapter builds them, so that
 * tests that need a raw provider work on either line.
 */
import type { MeterProvider } from '@opentelemetry/api';
import { loadSdk, type SdkSampler, type SdkSpanExporter } from '../../lib/tracing/otel/sdk.js';

export const sdk = loadSdk();

/** The line the run asked for (spec/run.mjs): 3 when HYPERION_OTEL_LINE=3, else 2. */
export const EXPECTED_LINE: 2 | 3 = process.env.HYPERION_OTEL_LINE === '3' ? 3 : 2;

/** A provider of the installed SDK exporting synchronously to `exporter`. */
export function rawProvider(options: {
  exporter?: SdkSpanExporter;
  sampler?: SdkSampler;
  meterProvider?: MeterProvider;
}) {
  return sdk.provider({
    sampler: options.sampler ?? new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    spanProcessors: options.exporter ? [sdk.simpleProcessor(options.exporter)] : [],
    ...(options.meterProvider ? { meterProvider: options.meterProvider } : {}),
  });
}
