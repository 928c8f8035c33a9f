/**
 * A throwaway certificate authority for TLS tests, made with `openssl` in a temp dir per run:
 *
 * - `ca`: the CA the servers' certificates are signed by (what clients are told to trust);
 * - `server`: valid for `127.0.0.1` and `localhost` (subjectAltName), signed by `ca`;
 * - `client` / `clientEncrypted`: client certificates for mutual TLS (the second one's key is
 *   encrypted with `passphrase`);
 * - `expired`: signed by `ca`, valid for 127.0.0.1, but expired;
 * - `wrongHost`: signed by `ca`, valid only for `db.example.invalid`;
 * - `otherCa`: an unrelated CA (the "wrong CA" a client may be configured with).
 *
 * EC P-256 keys keep generation fast (~100 ms for the whole set).
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findBinary, runCommand, skipUnless, tempDir } from './process.js';

export function skipOpenssl(): string | false {
  return skipUnless(['openssl'], 'apt-get install -y openssl');
}

/** Paths of one certificate and its key, plus their PEM text. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
  /** PEM of `cert`. */
  readonly certPem: string;
  /** PEM of `key`. */
  readonly keyPem: string;
}

export interface TestPki {
  readonly dir: string;
  readonly ca: CertFiles;
  readonly otherCa: CertFiles;
  readonly server: CertFiles;
  readonly expired: CertFiles;
  readonly wrongHost: CertFiles;
  readonly client: CertFiles;
  /** Client certificate of the CA that has expired. */
  readonly expiredClient: CertFiles;
  /** Client certificate whose key file is encrypted with `passphrase`. */
  readonly clientEncrypted: CertFiles;
  readonly passphrase: string;
  /** Removes the temp dir. Idempotent. */
  remove(): Promise<void>;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

async function openssl(args: readonly string[]): Promise<void> {
  await runCommand(findBinary('openssl') ?? 'openssl', args, { timeoutMs: 20_000 });
}

function files(cert: string, key: string): CertFiles {
  return { cert, key, certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

/** Makes the whole set; `passphrase` encrypts `clientEncrypted`'s key. */
export async function createTestPki(options: { passphrase?: string } = {}): Promise<TestPki> {
  const passphrase = options.passphrase ?? 'pki-passphrase';
  const dir = await tempDir('pki');
  const p = (name: string) => join(dir.path, name);
  try {
    const makeCa = (name: string) =>
      openssl(
        ['req', '-x509', ...EC, '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`)].concat([
          '-subj',
          `/CN=hyperion test ${name}`,
          '-days',
          '2',
        ]),
      );
    await Promise.all([makeCa('ca'), makeCa('other-ca')]);
    /** A certificate for `name` signed by the CA with `san` and `days` (negative = expired). */
    const leaf = async (
      name: string,
      san: string | undefined,
      days: number,
      usage: string,
      pass?: string,
    ) => {
      const ext = p(`${name}.ext`);
      await writeFile(
        ext,
        [
          `extendedKeyUsage=${usage}`,
          ...(san ? [`subjectAltName=${san}`] : []),
          'basicConstraints=CA:FALSE',
          '',
        ].join('\n'),
      );
      const keyArgs = pass ? ['-passout', `pass:${pass}`] : ['-nodes'];
      await openssl([
        'req',
        ...EC,
        ...keyArgs,
        '-keyout',
        p(`${name}.key`),
        '-out',
        p(`${name}.csr`),
        '-subj',
        `/CN=${name}`,
      ]);
      await openssl([
        'x509',
        '-req',
        '-in',
        p(`${name}.csr`),
        '-CA',
        p('ca.crt'),
        '-CAkey',
        p('ca.key'),
        '-CAcreateserial',
        '-out',
        p(`${name}.crt`),
        '-days',
        String(days),
        '-extfile',
        ext,
      ]);
      return files(p(`${name}.crt`), p(`${name}.key`));
    };
    // Sequential: `-CAcreateserial` writes one serial file.
    const server = await leaf('server', 'IP:127.0.0.1,DNS:localhost', 2, 'serverAuth,clientAuth');
    const expired = await leaf('expired', 'IP:127.0.0.1,DNS:localhost', -1, 'serverAuth');
    const wrongHost = await leaf('wrong-host', 'DNS:db.example.invalid', 2, 'serverAuth');
    const client = await leaf('client', undefined, 2, 'clientAuth');
    const expiredClient = await leaf('expired-client', undefined, -1, 'clientAuth');
    const clientEncrypted = await leaf('client-enc', undefined, 2, 'clientAuth', passphrase);
    return {
      dir: dir.path,
      ca: files(p('ca.crt'), p('ca.key')),
      otherCa: files(p('other-ca.crt'), p('other-ca.key')),
      server,
      expired,
      wrongHost,
      client,
      expiredClient,
      clientEncrypted,
      passphrase,
      remove: dir.remove,
    };
  } catch (err) {
    await dir.remove().catch(() => {});
    throw err;
  }
}
