/**
 * How a file path in a config (TLS `ca_file`/`cert_file`/`key_file`, `bearer_token_file`, …) or in
 * an `OTEL_EXPORTER_OTLP_*CERTIFICATE`/`…_KEY` variable is read: a relative path from the working
 * directory (not the config file's folder), `~` never expanded. A missing `~/ca.pem` gave a bare
 * `cannot read … (ENOENT)`, to a user whose home directory holds that very file; the error now
 * says `~` is not expanded, or that a relative path is read from the working directory. The
 * config file's own path (`loadConfig('~/hyperion.yaml')`) likewise.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createAppFromConfig, loadConfig, loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hyperion-file-paths-'));
  await writeFile(join(dir, 'token'), 'secret-token\n');
});
after(() => rm(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.OTEL_EXPORTER_OTLP_CERTIFICATE;
});

/** The one issue of the ConfigError `build` rejects with, at `path`. */
async function issueOf(build: () => Promise<unknown>, path: string): Promise<string> {
  let message = '';
  await assert.rejects(build, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    const issue = err.issues.find((i) => i.path === path);
    assert.ok(issue, `an issue at ${path}: ${err.message}`);
    message = issue.message;
    return true;
  });
  return message;
}

const app = (text: string) => async () => (await createAppFromConfig(loadConfigFromText(text))).close();

describe('file paths in a config: `~` and relative paths', () => {
  it('a `~/` path is not expanded, and the error says so, naming the field', async () => {
    for (const [text, field] of [
      ['tracing: {exporter: otlp, tls: {ca_file: "~/ca.pem"}}', 'tracing.tls.ca_file'],
      ['metrics: {auth: {bearer_token_file: "~/token"}}', 'metrics.auth.bearer_token_file'],
      ['tracing: {exporter: otlp, tls: {ca_file: "~someone/ca.pem"}}', 'tracing.tls.ca_file'],
    ] as const) {
      const message = await issueOf(app(text), field);
      assert.match(message, /ENOENT/);
      assert.match(message, /`~` is not expanded/);
    }
  });

  it('a missing relative path names the working directory it was read from', async () => {
    const message = await issueOf(
      app('tracing: {exporter: otlp, tls: {ca_file: "certs/missing-ca.pem"}}'),
      'tracing.tls.ca_file',
    );
    assert.match(message, /ENOENT/);
    assert.ok(
      message.includes(`relative path is read from the working directory (${process.cwd()})`),
      message,
    );
  });

  it('a relative path is read from the working directory', async () => {
    const token = relative(process.cwd(), join(dir, 'token'));
    const built = await createAppFromConfig(
      loadConfigFromText(`metrics: {auth: {bearer_token_file: "${token}"}}\n`),
    );
    await built.close();
  });

  it('an absolute path that is missing gets no hint', async () => {
    const message = await issueOf(
      app(`tracing: {exporter: otlp, tls: {ca_file: "${join(dir, 'missing.pem')}"}}`),
      'tracing.tls.ca_file',
    );
    assert.doesNotMatch(message, /not expanded|working directory/);
  });

  it('OTEL_EXPORTER_OTLP_CERTIFICATE=~/ca.pem: the same words, naming the variable', async () => {
    process.env.OTEL_EXPORTER_OTLP_CERTIFICATE = '~/ca.pem';
    const message = await issueOf(
      async () => createOtelTracer({ exporter: 'otlp' }),
      'OTEL_EXPORTER_OTLP_CERTIFICATE',
    );
    assert.match(message, /ENOENT/);
    assert.match(message, /`~` is not expanded/);
  });

  it('loadConfig: a missing `~/` or relative config file says how its path was read', async () => {
    const failure = async (path: string) => {
      let message = '';
      await assert.rejects(loadConfig(path), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        message = err.message;
        return true;
      });
      return message;
    };
    assert.match(await failure('~/hyperion-missing.yaml'), /: ENOENT; `~` is not expanded/);
    assert.ok(
      (await failure('conf/hyperion-missing.yaml')).includes(
        `: ENOENT; a relative path is read from the working directory (${process.cwd()})`,
      ),
    );
    assert.doesNotMatch(await failure(join(dir, 'missing.yaml')), /not expanded|working directory/);
  });

  it('a value that is not shown (a secret pasted as the path) gets no hint either', async () => {
    const message = await issueOf(
      app('metrics: {auth: {bearer_token_file: "s3cr3t-token-value"}}'),
      'metrics.auth.bearer_token_file',
    );
    assert.doesNotMatch(message, /s3cr3t|working directory/);
  });

  // A URL where a path belongs was shown whole in the error, credentials included (the printed
  // config hides them), with the hint that a relative path is read from the working directory.
  it('a URL given as a path is not shown, and the error says nothing fetches it', async () => {
    for (const [text, path] of [
      [
        'cache: {type: redis, min_idle_conns: 0, tls: {ca_file: "https://deploy:tok-3f9a1c@vault/ca.pem"}}',
        'cache.tls.ca_file',
      ],
      [
        'tracing: {exporter: memory, tls: {ca_file: "HTTPS://tok-3f9a1c@vault/ca.pem"}}',
        'tracing.tls.ca_file',
      ],
      [
        'metrics: {tls: {cert_file: "s3://AKIA:tok-3f9a1c@bucket/c.pem", key_file: /x.pem}}',
        'metrics.tls.cert_file',
      ],
    ] as const) {
      let all = '';
      const message = await issueOf(async () => {
        try {
          await app(text)();
        } catch (err) {
          all = `${(err as Error).message}${JSON.stringify(err)}${(err as Error).stack}`;
          throw err;
        }
      }, path);
      assert.match(
        message,
        /cannot read \(a URL, (https|s3):, not shown: a file path is read from the file system, nothing is fetched\) \(ENOENT\)$/,
      );
      assert.doesNotMatch(all, /tok-3f9a1c|deploy|vault|bucket|working directory/);
    }
  });

  it('a Windows drive (one letter) is still a path, shown', async () => {
    const message = await issueOf(
      app('tracing: {exporter: memory, tls: {ca_file: "C://certs/ca.pem"}}'),
      'tracing.tls.ca_file',
    );
    assert.match(message, /cannot read "C:\/\/certs\/ca\.pem" \(ENOENT\)/);
  });
});
