/**
 * TLS of the OTLP exporter's HTTPS connection: a private CA to verify the collector, and a client
 * certificate for mutual TLS. Checked (and loaded once) when the tracer is created, so a bad PEM or
 * a wrong key passphrase is a ConfigError then, not an export that fails for ever.
 *
 * A certificate error at export time is an export failure like any other: counted in
 * `exportStats()` and logged rate-limited (`errorLogIntervalMs`), never thrown into the app.
 */
import type { AgentOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import { caBundleProblem } from '../../core/pem.js';

export interface ExportTlsOptions {
  /** PEM of the CA(s) to verify the collector with, instead of the system CAs. */
  ca?: string | Buffer | (string | Buffer)[] | undefined;
  /** PEM client certificate (mutual TLS), with `key`. */
  cert?: string | Buffer | undefined;
  /** PEM client key (mutual TLS), with `cert`. */
  key?: string | Buffer | undefined;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string | undefined;
  /** Host name to verify the certificate against (SNI), when it differs from the URL's. */
  servername?: string | undefined;
  /** Default true. `false` accepts any certificate: testing only. */
  rejectUnauthorized?: boolean | undefined;
}

type Bad = (path: string, expected: string, value: unknown, message: string) => void;

/** A `ca` with no text: `''`, blank text, an empty Buffer or a list of only such. */
function isEmptyCa(v: unknown): boolean {
  const blank = (x: unknown) =>
    (typeof x === 'string' && x.trim() === '') || (Buffer.isBuffer(x) && x.toString('latin1').trim() === '');
  return blank(v) || (Array.isArray(v) && v.every(blank));
}

/**
 * Why a non-empty `ca` trusts no collector, or `undefined`. Node takes a `ca` holding no PEM
 * certificate (a DER file, a key, any text) without a word and then trusts no CA at all; it stops
 * at the first unreadable block. Every export failed with "self-signed certificate" and a hint to
 * give the CA as tls.ca — the very thing done (found with a DER copy of the collector's own CA).
 */
export function caProblem(ca: string | Buffer | readonly (string | Buffer)[]): string | undefined {
  const problem = caBundleProblem(ca);
  if (problem === 'none')
    return 'holds no PEM certificate (-----BEGIN CERTIFICATE-----), so no collector would be trusted; a DER file? convert it: openssl x509 -inform der -in ca.der -out ca.pem';
  if (problem === 'unreadable')
    return 'holds a PEM certificate block that cannot be read (Node ignores it and every certificate after it)';
  return undefined;
}

const pem = (v: unknown) =>
  typeof v === 'string' ||
  Buffer.isBuffer(v) ||
  (Array.isArray(v) && v.every((x) => typeof x === 'string' || Buffer.isBuffer(x)));

/** Checks `tls` and returns the https agent options it maps to (`undefined` when absent). */
export function resolveExportTls(value: unknown, bad: Bad): AgentOptions | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    bad('tls', 'TLS options object', value, 'must be an object');
    return undefined;
  }
  const t = value as ExportTlsOptions & Record<string, unknown>;
  const known = ['ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized'];
  for (const k of Object.keys(t))
    if (!known.includes(k)) bad(`tls.${k}`, known.join(' | '), t[k], 'is not a known field');
  for (const k of ['ca', 'cert', 'key'] as const)
    if (t[k] !== undefined && !pem(t[k])) bad(`tls.${k}`, 'PEM text or a Buffer', t[k], 'not PEM text');
  // Node reads `ca: ''` as no `ca`: the system CAs were trusted instead of the private CA meant.
  if (t.ca !== undefined && pem(t.ca) && isEmptyCa(t.ca))
    bad(
      'tls.ca',
      'the PEM of the CA(s) to trust',
      t.ca,
      'is empty: Node would trust the system CAs instead (leave ca out to mean them)',
    );
  else if (t.ca !== undefined && pem(t.ca)) {
    const problem = caProblem(t.ca);
    if (problem) bad('tls.ca', 'the PEM of the CA(s) to trust', t.ca, problem);
  }
  for (const k of ['passphrase', 'servername'] as const)
    if (t[k] !== undefined && typeof t[k] !== 'string') bad(`tls.${k}`, 'string', t[k], 'must be a string');
  if (typeof t.servername === 'string' && !/^\S+$/.test(t.servername))
    bad('tls.servername', 'a host name without spaces', t.servername, 'must be a host name');
  if (t.rejectUnauthorized !== undefined && typeof t.rejectUnauthorized !== 'boolean')
    bad('tls.rejectUnauthorized', 'boolean', t.rejectUnauthorized, 'must be true or false');
  if ((t.cert === undefined) !== (t.key === undefined))
    bad('tls', 'cert and key together', undefined, 'mutual TLS needs both cert and key');
  try {
    createSecureContext({ ca: t.ca, cert: t.cert, key: t.key, passphrase: t.passphrase });
  } catch (err) {
    const reason = String((err as Error).message ?? err).split('\n')[0];
    bad('tls', 'usable CA, certificate and key', value, `TLS material cannot be loaded: ${reason}`);
  }
  const out: AgentOptions = {};
  if (t.ca !== undefined) out.ca = t.ca;
  if (t.cert !== undefined) out.cert = t.cert;
  if (t.key !== undefined) out.key = t.key;
  if (t.passphrase !== undefined) out.passphrase = t.passphrase;
  if (t.servername !== undefined) out.servername = t.servername;
  if (t.rejectUnauthorized !== undefined) out.rejectUnauthorized = t.rejectUnauthorized;
  return out;
}
