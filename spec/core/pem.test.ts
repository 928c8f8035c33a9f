/**
 * The CA-bundle checks (OTLP exporter `tls.ca`, the metrics endpoint's client `tls.ca`, a config
 * file's `ca_file`) find PEM certificate blocks with `pemCertificateBlocks`, one pass over the
 * text. They used the regular expression `BEGIN[\s\S]*?END`, which reads the rest of the text
 * again from every BEGIN without an END: a malformed bundle of 1 MB held the event loop for ~30 s
 * (2 MB: about two minutes), the service not starting meanwhile.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { pemCertificateBlocks } from '../../lib/core/pem.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The expression the checks used (the config file's form; the others differ only in TRUSTED pairing). */
const OLD = /-----BEGIN (?:TRUSTED )?CERTIFICATE-----[\s\S]*?-----END (?:TRUSTED )?CERTIFICATE-----/g;

const FRAGMENTS = [
  '-----BEGIN CERTIFICATE-----',
  '-----BEGIN TRUSTED CERTIFICATE-----',
  '-----END CERTIFICATE-----',
  '-----END TRUSTED CERTIFICATE-----',
  '-----BEGIN ',
  '-----END ',
  'CERTIFICATE-----',
  '-----',
  'MIIB',
  '\n',
  '\r\n',
  ' ',
];

/** Malformed: BEGIN lines and no END, `bytes` long. */
const noEnd = (bytes: number) => '-----BEGIN CERTIFICATE-----\n'.repeat(Math.ceil(bytes / 28));

describe('PEM certificate blocks of a CA bundle', () => {
  it('finds the blocks the regular expression found, on generated bundles', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }), (parts) => {
        const text = parts.join('');
        assert.deepEqual(pemCertificateBlocks(text), text.match(OLD) ?? []);
      }),
      { numRuns: Number(process.env.HYPERION_PEM_RUNS ?? 2000) },
    );
    assert.deepEqual(pemCertificateBlocks(noEnd(4096)), []);
  });

  // A hang guard, not a measure: one pass takes milliseconds, the old expression minutes for
  // 2 MB. The check runs in a child process (a synchronous loop cannot be cut from inside), which
  // is killed if it has not answered in 30 s, far above the need (the child takes ~1 s, mostly
  // loading; the old expression took over 100 s per check here).
  it('a 2 MB bundle of BEGIN lines without END: the tracer and the metrics endpoint refuse it at once', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `
        import { createOtelTracer } from ${JSON.stringify(new URL('../../lib/tracing/otel/index.ts', import.meta.url).href)};
        import { createMetrics } from ${JSON.stringify(new URL('../../lib/metrics/prometheus/index.ts', import.meta.url).href)};
        const ca = '-----BEGIN CERTIFICATE-----\\n'.repeat(Math.ceil((2 * 1024 * 1024) / 28));
        const out = [];
        try { createOtelTracer({ endpoint: 'https://127.0.0.1:4318/v1/traces', tls: { ca } }); } catch (e) { out.push(e.message); }
        try { createMetrics({ port: 0, tls: { cert: 'x', key: 'y', ca } }); } catch (e) { out.push(e.message); }
        console.log(JSON.stringify(out));
        `,
      ],
      { cwd: root, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' },
    );
    assert.equal(r.signal, null, 'the check did not answer: killed');
    assert.equal(r.status, 0, r.stderr);
    const [tracer, metrics] = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
    assert.match(tracer!, /tls\.ca: holds no PEM certificate/);
    assert.match(metrics!, /tls\.ca holds no PEM certificate/);
  });
});
