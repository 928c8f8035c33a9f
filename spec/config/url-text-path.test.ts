/**
 * `loadConfig` reads a file path or a `file:` URL. Text in another URL's form
 * (`https://config-server/app.yaml`, `s3://bucket/app.yaml`) was taken for a relative path: the
 * error was an ENOENT saying a relative path is read from the working directory — no word that
 * nothing is fetched — and it showed the URL, credentials included. It is now refused before
 * anything is read, saying what loadConfig reads, without showing the URL. A file whose relative
 * path merely looks odd, and a Windows-style drive (`C://…`, one letter), are still paths.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

let dir: string;
const cwd = process.cwd();
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hyperion-url-path-'));
  await mkdir(join(dir, 'C:', 'cfg'), { recursive: true });
  await writeFile(join(dir, 'C:', 'cfg', 'app.yaml'), 'service: {name: drive}\n');
});
after(async () => {
  process.chdir(cwd);
  await rm(dir, { recursive: true, force: true });
});

describe('loadConfig of text in another URL form', () => {
  for (const url of [
    'https://deploy:tok-3f9a1c@config-server/app.yaml',
    'http://config-server:8080/app.yaml?token=tok-3f9a1c',
    'S3://tok-3f9a1c@bucket/app.yaml',
  ]) {
    it(url.split(':')[0]!, async () => {
      await assert.rejects(loadConfig(url, { env: {} }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        const scheme = url.split(':')[0]!.toLowerCase();
        assert.equal(
          err.message,
          `cannot read config file: the path is a URL (${scheme}:, not shown); loadConfig reads a file path or a file: URL: fetch it yourself and pass the text to loadConfigFromText`,
        );
        assert.doesNotMatch(err.message, /tok-3f9a1c|config-server|bucket/);
        return true;
      });
    });
  }

  // A file: URL cannot carry credentials, so one that does (a share's URL) does not parse: its
  // error showed it whole, password included.
  it('a file: URL with credentials is refused without them', async () => {
    for (const url of [
      'file://deploy:tok-3f9a1c@fileserver/share/app.yaml',
      'FILE://tok-3f9a1c@fileserver/app.yaml',
    ]) {
      await assert.rejects(loadConfig(url, { env: {} }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(
          err.message,
          /^cannot read config file file:\/\/\[redacted\]@fileserver\/.*app\.yaml: not a valid file: URL$/i,
        );
        assert.doesNotMatch(`${err.message}${err.stack}`, /tok-3f9a1c|deploy/);
        return true;
      });
    }
  });

  it('a one-letter scheme is a drive, read as a path', async () => {
    process.chdir(dir);
    try {
      assert.deepEqual(await loadConfig('C://cfg/app.yaml', { env: {} }), { service: { name: 'drive' } });
    } finally {
      process.chdir(cwd);
    }
  });
});
