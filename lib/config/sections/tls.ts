/**
 * TLS and credential fields shared by the config sections, with file paths for certificates, keys
 * and tokens. The files are read once, when the section is mapped to adapter options (at startup,
 * by `createAppFromConfig`); a missing or unreadable file is a ConfigError naming the field and
 * the path (never the file's content).
 *
 *   tls:
 *     ca_file: /etc/hyperion/ca.pem          # verify the server with this CA (not the system store)
 *     cert_file: /etc/hyperion/client.pem    # mutual TLS: client certificate …
 *     key_file: /etc/hyperion/client.key     # … and its key
 *     key_passphrase: "…"                    # if the key is encrypted
 *     server_name: redis.internal            # name to check the certificate against
 *     reject_unauthorized: true              # false = accept any certificate (testing only)
 */
import { X509Certificate } from 'node:crypto';
import { type ConnectionOptions, createSecureContext } from 'node:tls';
import * as v from 'valibot';
import { type BoundedFileError, readBoundedFile } from '../../core/bounded-file.js';
import { ConfigError } from '../../core/errors.js';
import { pemCertificateBlocks } from '../../core/pem.js';
import { pathHint } from '../../tracing/otel/env.js';
import { MAX_CONFIG_BYTES } from '../limits.js';
import { pathMayBeSecret } from '../messages.js';
import { flag, hostName, nonEmpty, type SectionRule, section, text } from '../primitives.js';

const path = nonEmpty('a file path');

/** Client-side TLS (Redis, OTLP): file paths, read at startup. */
export const clientTlsFields = {
  ca_file: v.optional(path),
  cert_file: v.optional(path),
  key_file: v.optional(path),
  key_passphrase: v.optional(text),
  server_name: v.optional(hostName('a host name without spaces')),
  reject_unauthorized: v.optional(flag),
};

/** Mutual TLS needs both the certificate and its key. */
export const certWithKey: SectionRule = (t, fail) => {
  if ((t.cert_file === undefined) !== (t.key_file === undefined))
    fail(
      [t.cert_file === undefined ? 'cert_file' : 'key_file'],
      'cert_file and key_file go together',
      'both or neither',
    );
};

export const clientTls = section(clientTlsFields, 'TLS settings', [certWithKey]);

/** Server-side TLS (the /metrics endpoint). */
export const serverTls = section(
  {
    cert_file: path,
    key_file: path,
    key_passphrase: v.optional(text),
    /** Require scrapers' client certificates signed by this CA (mutual TLS). */
    client_ca_file: v.optional(path),
  },
  'TLS settings',
);

/**
 * How a file path appears in messages. Values given where a path belongs are sometimes the secret
 * itself (a PEM pasted into `key_file`, a token into `bearer_token_file`): a value with a line
 * break, a PEM marker or over 1024 characters is never shown, nor, under a secret-named field
 * (`auth`, `…token_file`, `password_file`) or a private key's (`key_file`: an EC key's base64
 * body, pasted without its PEM lines, is one short line), one that does not start like a path
 * (`/`, `./`, `../`, `~/`, `C:\`).
 */
function shownPath(field: string, file: string): string {
  if (pathMayBeSecret(field.split('.'), file))
    return '(the value is not shown: it does not look like a file path)';
  // A URL where a path belongs (`ca_file: https://user:token@vault/ca.pem`) was shown whole,
  // credentials included (the printed config hides them), with the hint that a relative path is
  // read from the working directory. Nothing fetches it: say so, without the URL. A one-letter
  // scheme is a Windows drive (`C://certs/ca.pem`), a path.
  const scheme = /^([a-z][a-z\d+.-]+):\/\//i.exec(file)?.[1];
  if (scheme)
    return `(a URL, ${scheme.toLowerCase()}:, not shown: a file path is read from the file system, nothing is fetched)`;
  return `"${file}"`;
}

/**
 * Reads `file` for config field `field`: at most `MAX_CONFIG_BYTES` (1 MiB, hundreds of
 * certificates), so a path to a huge file or an endless device (`/dev/zero`) fails at once
 * instead of reading until memory runs out. ConfigError naming the field and the path (never the
 * content) when it cannot.
 */
export function readConfigFile(field: string, file: string): Buffer {
  const shown = shownPath(field, file);
  const fail = (why: string, message: string) =>
    new ConfigError(`cannot read ${field} ${shown}: ${why}`, [
      { path: field, expected: 'a readable file of at most 1 MiB', received: 'string', message },
    ]);
  try {
    // Bounded and non-blocking (lib/core/bounded-file.ts): `ca_file: /run/some.fifo` used to
    // freeze the whole process at startup, waiting for a writer.
    return readBoundedFile(file, MAX_CONFIG_BYTES);
  } catch (err) {
    const { code, message } = err as BoundedFileError;
    if (code === 'too_large')
      throw fail(
        `larger than ${MAX_CONFIG_BYTES} bytes`,
        `${shown} is larger than ${MAX_CONFIG_BYTES} bytes (the limit for a file named in a config)`,
      );
    if (code === 'FIFO' || code === 'socket') throw fail(message, `${shown} ${message.slice(3)}`);
    // Only for a path that is shown (a hidden value may be a secret pasted in place of a path).
    const hint = shown.startsWith('"') ? pathHint(file, code) : '';
    throw fail(`${code}${hint}`, `cannot read ${shown} (${code})${hint}`);
  }
}

/**
 * Runs each step (each reads files a config names) and then throws one ConfigError listing every
 * failure, so a config naming several missing or unusable files gets them all in one message; a
 * single failure is thrown as it is.
 */
export function readingAll(steps: readonly (() => void)[]): void {
  const failed: ConfigError[] = [];
  for (const step of steps) {
    try {
      step();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      failed.push(err);
    }
  }
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) {
    const issues = failed.flatMap((e) => e.issues);
    throw new ConfigError(`${issues.length} files named in the config cannot be used`, issues);
  }
}

/**
 * Checks that the PEM read from a config's files loads, each named by its field: the CA bundle,
 * the certificate, the key (with its passphrase), then whether certificate and key belong
 * together. Otherwise a file that holds no certificate (a wrong path to some other file, a DER
 * file) was accepted and every connection failed later — the OTLP exporter's at each export,
 * without a word at startup. The reason is OpenSSL's ("no start line", "bad decrypt"), never the
 * content.
 */
export function checkTlsMaterial(
  field: string,
  m: { ca?: unknown; cert?: unknown; key?: unknown; passphrase?: string | undefined },
  names: { ca: string; cert: string; key: string },
): void {
  const loads = (name: string, expected: string, options: object, what: string) => () => {
    try {
      createSecureContext(options);
    } catch (err) {
      const reason = (err as { reason?: unknown } | null)?.reason;
      const message = `${what} (${typeof reason === 'string' ? reason : 'cannot be loaded'})`;
      throw new ConfigError(`${field}.${name}: ${message}`, [
        { path: `${field}.${name}`, expected, received: 'a file that cannot be used', message },
      ]);
    }
  };
  const each: (() => void)[] = [];
  if (m.ca !== undefined) {
    // OpenSSL skips what is not a certificate in a CA bundle without an error: each PEM block is
    // parsed here, and a bundle without one is refused.
    // OpenSSL's `TRUSTED CERTIFICATE` blocks load too; they are counted, not parsed here.
    const blocks = pemCertificateBlocks(String(m.ca));
    const what =
      blocks.length === 0 ? 'holds no PEM certificate' : 'holds a PEM certificate that cannot be read';
    each.push(() => {
      try {
        if (blocks.length === 0) throw new Error();
        for (const block of blocks) if (!block.includes('TRUSTED')) new X509Certificate(block);
      } catch {
        throw new ConfigError(`${field}.${names.ca}: ${what}`, [
          {
            path: `${field}.${names.ca}`,
            expected: 'PEM CA certificates',
            received: 'a file that cannot be used',
            message: what,
          },
        ]);
      }
    });
  }
  if (m.cert !== undefined)
    each.push(loads(names.cert, 'a PEM certificate', { cert: m.cert }, 'holds no usable PEM certificate'));
  if (m.key !== undefined)
    each.push(
      loads(
        names.key,
        'a PEM private key (and its key_passphrase when it is encrypted)',
        { key: m.key, passphrase: m.passphrase },
        'holds no private key that loads with the key_passphrase given',
      ),
    );
  readingAll(each);
  if (m.cert !== undefined && m.key !== undefined)
    loads(
      names.key,
      `the private key of the certificate in ${names.cert}`,
      { cert: m.cert, key: m.key, passphrase: m.passphrase },
      `is not the key of the certificate in ${names.cert}`,
    )();
}

/** Maps a `clientTls` section to `tls.connect` options, reading the files. `field` is its path. */
export function clientTlsOptions(t: v.InferOutput<typeof clientTls>, field: string): ConnectionOptions {
  const o: ConnectionOptions = {};
  readingAll([
    () => {
      if (t.ca_file !== undefined) o.ca = readConfigFile(`${field}.ca_file`, t.ca_file);
    },
    () => {
      if (t.cert_file !== undefined) o.cert = readConfigFile(`${field}.cert_file`, t.cert_file);
    },
    () => {
      if (t.key_file !== undefined) o.key = readConfigFile(`${field}.key_file`, t.key_file);
    },
  ]);
  if (t.key_passphrase !== undefined) o.passphrase = t.key_passphrase;
  if (t.server_name !== undefined) o.servername = t.server_name;
  if (t.reject_unauthorized !== undefined) o.rejectUnauthorized = t.reject_unauthorized;
  return o;
}

/** Reads a secret from `value` or `file` (file content trimmed of one trailing newline). */
export function secretValue(
  value: string | undefined,
  file: string | undefined,
  field: string,
): string | undefined {
  if (file === undefined) return value;
  return readConfigFile(`${field}_file`, file)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
