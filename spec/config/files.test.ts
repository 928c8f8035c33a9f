/**
 * Files named by config fields (certificates, keys, token and password files) are read with the
 * same bound as a config file: a path to a huge file (or an endless device such as /dev/zero)
 * is a ConfigError naming the field, instead of reading until memory runs out.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  loadConfigFromText,
  MAX_CONFIG_BYTES,
  metricsOptionsFromConfig,
  parseConfig,
} from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

async function sparseFile(path: string, size: number): Promise<void> {
  const h = await open(path, 'w');
  await h.truncate(size); // no disk blocks: a hole of `size` bytes
  await h.close();
}

describe('config: files named by fields are read with a size bound', () => {
  it('a token file over the limit is a ConfigError naming the field and the path, not read whole', async () => {
    const dir = await tempDir('hyperion-config-files-');
    const big = join(dir, 'huge-token');
    await sparseFile(big, 64 * MAX_CONFIG_BYTES);
    const m = parseConfig({ metrics: { auth: { bearer_token_file: big } } });
    assert.throws(
      () => metricsOptionsFromConfig(m.metrics!),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.includes('metrics.auth.bearer_token_file') &&
        e.message.includes(big) &&
        /larger than/.test(e.message),
    );
    const c = parseConfig({ metrics: { tls: { cert_file: big, key_file: big } } });
    assert.throws(() => metricsOptionsFromConfig(c.metrics!), /metrics\.tls\.cert_file/);
  });

  it('a file at the limit is read whole', async () => {
    const dir = await tempDir('hyperion-config-files-');
    const token = join(dir, 'token');
    await writeFile(token, `${'t'.repeat(MAX_CONFIG_BYTES - 1)}\n`);
    const m = parseConfig({ metrics: { auth: { bearer_token_file: token } } });
    const o = metricsOptionsFromConfig(m.metrics!);
    assert.equal((o.auth as { bearerToken: string }).bearerToken.length, MAX_CONFIG_BYTES - 1);
  });

  it('an endless device is refused quickly', { skip: process.platform === 'win32' }, () => {
    const m = parseConfig({ metrics: { auth: { bearer_token_file: '/dev/zero' } } });
    assert.throws(() => metricsOptionsFromConfig(m.metrics!), /larger than/);
  });
});

describe('config: a named pipe given as a file field', { skip: process.platform === 'win32' }, () => {
  // The open was synchronous and blocking: it waited for a writer to the pipe, freezing the whole
  // process at startup (timers and signal handlers too) for as long as none came. Run in a child
  // process, which the old code left blocked until the spawn's bound killed it.
  for (const [field, text] of [
    ['tracing.tls.ca_file', (p: string) => `tracing:\n  tls: { ca_file: "${p}" }\n`],
    ['metrics.auth.bearer_token_file', (p: string) => `metrics:\n  auth: { bearer_token_file: "${p}" }\n`],
  ] as const) {
    it(`${field}: a ConfigError naming the field and the pipe, at once`, async () => {
      const dir = await tempDir('hyperion-config-fifo-');
      const fifo = join(dir, 'ca.pem');
      const made = spawnSync('mkfifo', [fifo]);
      assert.equal(made.status, 0, String(made.stderr));
      const child = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(new URL('./fixtures/build-from-text.ts', import.meta.url)),
          text(fifo),
        ],
        { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 60_000 },
      );
      assert.equal(child.signal, null, `the child was still blocked (killed by ${child.signal})`);
      const out = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { name?: string; message?: string };
      assert.equal(out.name, 'ConfigError', child.stdout + child.stderr);
      assert.ok(out.message?.includes(field) && out.message.includes(fifo), out.message);
      assert.match(out.message!, /is a named pipe \(FIFO\), not a file/);
    });
  }
});

describe('config: metrics credentials the endpoint would refuse are refused by the schema, with their path', () => {
  // Before: accepted by the schema, then createMetrics threw a MetricsError without a path.
  for (const [auth, field, path] of [
    ['{username: "a:b", password: p}', 'username', 'a user name without ":"'],
    ['{bearer_token: "abc def"}', 'bearer_token', 'a token without spaces'],
    ['{bearer_token: "abc\\tdef"}', 'bearer_token', 'a token without spaces'],
  ] as const)
    it(`${auth} → ConfigError (${path})`, () => {
      // The fields `auth` defines are named (they were all `metrics.auth.…`, one path for any
      // of them); the values never shown.
      assert.throws(
        () => loadConfigFromText(`metrics: {auth: ${auth}}\n`, { env: {} }),
        (e: unknown) =>
          e instanceof ConfigError &&
          !/abc|a:b/.test(JSON.stringify(e.issues)) &&
          e.issues.some((i) => i.path === `metrics.auth.${field}` && i.expected.startsWith(path)),
      );
    });

  it('each bad field under `auth` has its own path; a key auth does not define stays hidden', () => {
    assert.throws(
      () =>
        loadConfigFromText(
          'metrics:\n  auth:\n    username: 5\n    password: [S3CR3T]\n    bearer_tokn: S3CR3T\n',
          { env: {} },
        ),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(
          e.issues.map((i) => i.path),
          ['metrics.auth.username', 'metrics.auth.password', 'metrics.auth.…'],
        );
        assert.match(e.issues[2]!.message, /did you mean `bearer_token`/);
        assert.ok(!JSON.stringify(e.issues).includes('S3CR3T'));
        return true;
      },
    );
  });

  it('a token file whose token holds whitespace is a ConfigError naming the field, without the token', async () => {
    const dir = await tempDir('hyperion-config-files-');
    const token = join(dir, 'token');
    await writeFile(token, 'S3CR3T-part1 part2\n');
    const m = parseConfig({ metrics: { auth: { bearer_token_file: token } } });
    assert.throws(
      () => metricsOptionsFromConfig(m.metrics!),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues.some((i) => i.path === 'metrics.auth.bearer_token_file') &&
        !`${e.message}${JSON.stringify(e.issues)}`.includes('S3CR3T'),
    );
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    const basic = parseConfig({ metrics: { auth: { username: 'u', password_file: empty } } });
    assert.throws(
      () => metricsOptionsFromConfig(basic.metrics!),
      (e: unknown) =>
        e instanceof ConfigError && e.issues.some((i) => i.path === 'metrics.auth.password_file'),
    );
    await writeFile(token, 'S3CR3T-ok\r\n');
    const ok = metricsOptionsFromConfig(
      parseConfig({ metrics: { auth: { bearer_token_file: token } } }).metrics!,
    );
    assert.deepEqual(ok.auth, { bearerToken: 'S3CR3T-ok' });
  });
});

describe('config: a secret given where a file path belongs is never echoed', () => {
  const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvS3CR3TkeyMaterial/abc+def==\n-----END PRIVATE KEY-----\n';
  // A readable certificate file, so that key_file is the field that fails.
  const CERT = join(tmpdir(), `hyperion-config-files-cert-${process.pid}.pem`);
  before(() => writeFile(CERT, 'CERT PEM'));
  after(() => rm(CERT, { force: true }));
  const cases: [string, Record<string, unknown>, string][] = [
    // The PEM itself pasted into key_file (e.g. HYPERION__METRICS__TLS__KEY_FILE="$(cat key.pem)").
    ['a PEM in tls.key_file', { metrics: { tls: { cert_file: CERT, key_file: PEM } } }, 'MIIEvS3CR3T'],
    // The token itself in bearer_token_file.
    [
      'a token in bearer_token_file',
      { metrics: { auth: { bearer_token_file: 'S3CR3T-token-value' } } },
      'S3CR3T',
    ],
    [
      'a password in password_file',
      { metrics: { auth: { username: 'u', password_file: 'hunter2-S3CR3T' } } },
      'S3CR3T',
    ],
  ];
  for (const [what, raw, secret] of cases)
    it(`${what}: ConfigError naming the field, without the value`, () => {
      const cfg = parseConfig(raw);
      const err = (() => {
        try {
          metricsOptionsFromConfig(cfg.metrics!);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      assert.ok(err instanceof ConfigError, String(err));
      const all = `${err.message}\n${JSON.stringify(err.issues)}\n${String(err.cause)}`;
      assert.ok(!all.includes(secret), `the value leaked:\n${all}`);
      assert.match(err.message, /metrics\.(tls|auth)\./);
    });

  it('a path that looks like one is still named (absolute, or relative to a non-secret field)', () => {
    const cfg = parseConfig({ metrics: { auth: { bearer_token_file: '/run/secrets/nope' } } });
    assert.throws(() => metricsOptionsFromConfig(cfg.metrics!), /\/run\/secrets\/nope/);
    const rel = parseConfig({
      metrics: { tls: { cert_file: 'certs/nope.pem', key_file: 'certs/nope.key' } },
    });
    assert.throws(() => metricsOptionsFromConfig(rel.metrics!), /certs\/nope\.pem/);
  });
});
