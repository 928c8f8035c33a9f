/**
 * Protection of the `/metrics` endpoint: an optional bearer token or basic-auth credentials
 * (checked in constant time), and optional TLS for the adapter's own server. Default: neither,
 * on 127.0.0.1 — see lib/PRODUCTION.md for exposing it beyond the host.
 */
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { MetricsError } from '../../core/errors.js';
import { pemCertificateBlocks } from '../../core/pem.js';

/** Credentials a scraper must send: `Authorization: Bearer <token>` or `Basic <user:password>`. */
export type EndpointAuth = { bearerToken: string } | { username: string; password: string };

/** TLS of the server `listen()` starts (PEM text or Buffers; the config file reads them from files). */
export interface EndpointTls {
  cert: string | Buffer;
  key: string | Buffer;
  passphrase?: string | undefined;
  /** CA of the scrapers' client certificates: with it, a client certificate is required (mutual TLS). */
  ca?: string | Buffer | undefined;
}

const digest = (s: string | Buffer) => createHash('sha256').update(s).digest();

/** Checks `auth`; returns the expected `Authorization` header value, or `undefined`. */
export function resolveAuth(auth: unknown): string | undefined {
  if (auth === undefined) return undefined;
  const a = auth as Partial<{ bearerToken: unknown; username: unknown; password: unknown }>;
  const fail = (m: string) => new MetricsError('invalid_option', `auth ${m}`);
  if (a === null || typeof a !== 'object') throw fail('must be { bearerToken } or { username, password }');
  if (a.bearerToken !== undefined) {
    if (a.username !== undefined || a.password !== undefined)
      throw fail('takes either bearerToken or username/password, not both');
    // Printable ASCII only: a header is read as Latin-1, so a token with other characters, sent
    // as UTF-8 (Prometheus, curl), never matched and every scrape got 401.
    if (typeof a.bearerToken !== 'string' || !/^[\x21-\x7e]+$/.test(a.bearerToken))
      throw fail('bearerToken must be a non-empty string of printable ASCII characters without spaces');
    return `Bearer ${a.bearerToken}`;
  }
  if (typeof a.username !== 'string' || a.username === '' || a.username.includes(':'))
    throw fail('username must be a non-empty string without ":"');
  if (typeof a.password !== 'string' || a.password === '') throw fail('password must be a non-empty string');
  return `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
}

/** Why a client CA bundle verifies no certificate, or `undefined`. */
function clientCaProblem(ca: string): string | undefined {
  const blocks = pemCertificateBlocks(ca);
  if (blocks.length === 0)
    return 'holds no PEM certificate (a DER file? convert it: openssl x509 -inform der)';
  for (const block of blocks) {
    if (block.includes('TRUSTED')) continue; // OpenSSL's form, which X509Certificate does not read
    try {
      new X509Certificate(block);
    } catch {
      return 'holds a PEM certificate that cannot be read (Node ignores it and those after it)';
    }
  }
  return undefined;
}

/** Checks `tls` and loads it once (a bad PEM or passphrase is a MetricsError at creation). */
export function resolveEndpointTls(tls: unknown): SecureContextOptions | undefined {
  if (tls === undefined) return undefined;
  const t = tls as Partial<EndpointTls>;
  const pem = (v: unknown) => typeof v === 'string' || Buffer.isBuffer(v);
  if (t === null || typeof t !== 'object' || !pem(t.cert) || !pem(t.key))
    throw new MetricsError('invalid_option', 'tls needs cert and key (PEM text or Buffers)');
  if (t.ca !== undefined && !pem(t.ca)) throw new MetricsError('invalid_option', 'tls.ca must be PEM text');
  // Node takes a ca with no readable PEM certificate (a DER file, any text) without a word and
  // then trusts no client CA: every scraper's certificate was refused at the handshake.
  const caProblem = t.ca === undefined ? undefined : clientCaProblem(String(t.ca));
  if (caProblem)
    throw new MetricsError(
      'invalid_option',
      `tls.ca ${caProblem}: no scraper's client certificate could be verified`,
    );
  if (t.passphrase !== undefined && typeof t.passphrase !== 'string')
    throw new MetricsError('invalid_option', 'tls.passphrase must be a string');
  const options: SecureContextOptions = { cert: t.cert, key: t.key, passphrase: t.passphrase, ca: t.ca };
  try {
    createSecureContext(options);
  } catch (err) {
    const reason = String((err as Error).message ?? err).split('\n')[0];
    throw new MetricsError('invalid_option', `tls: certificate or key cannot be loaded: ${reason}`);
  }
  return options;
}

/**
 * `got` with its scheme spelled as `scheme` and one space before the credentials, when its scheme
 * is `scheme` in any case: the scheme is case-insensitive (RFC 9110 11.1), so `bearer <token>`
 * and `BASIC <base64>` are the same credentials. The credentials themselves are compared as sent.
 */
function canonical(got: string, scheme: string): string {
  const m = /^(\S+) +(.*)$/.exec(got);
  return m && m[1]!.toLowerCase() === scheme.toLowerCase() ? `${scheme} ${m[2]}` : got;
}

/**
 * Wraps `handler`: without the expected `Authorization` header the answer is 401 (with
 * `WWW-Authenticate`), and nothing is rendered. Comparison is in constant time over digests.
 */
export function requireAuth(
  expected: string | undefined,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  if (expected === undefined) return handler;
  const want = digest(expected);
  const scheme = expected.startsWith('Bearer ') ? 'Bearer' : 'Basic';
  return (req, res) => {
    const got = req.headers.authorization;
    if (typeof got === 'string' && timingSafeEqual(digest(canonical(got, scheme)), want)) {
      handler(req, res);
      return;
    }
    res
      .writeHead(401, { 'www-authenticate': `${scheme} realm="metrics"`, 'content-type': 'text/plain' })
      .end('unauthorized\n');
  };
}
