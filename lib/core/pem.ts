/** PEM certificate blocks of a CA bundle, found in one pass (for the TLS checks of every adapter). */
import { X509Certificate } from 'node:crypto';

const BEGIN = /-----BEGIN (?:TRUSTED )?CERTIFICATE-----/g;
const END = /-----END (?:TRUSTED )?CERTIFICATE-----/g;

/**
 * The PEM certificate blocks of `text`: from each `-----BEGIN CERTIFICATE-----` (or OpenSSL's
 * `TRUSTED CERTIFICATE` form) to the first `-----END … CERTIFICATE-----` after it, as the regular
 * expression `BEGIN[\s\S]*?END` finds them, but reading the text once. That expression read the
 * rest of the text again from every BEGIN without an END: a malformed bundle of 1 MB (a config
 * file's limit) held the event loop for about 30 s at startup.
 */
export function pemCertificateBlocks(text: string): string[] {
  const blocks: string[] = [];
  const begin = new RegExp(BEGIN);
  const end = new RegExp(END);
  let from = 0;
  for (;;) {
    begin.lastIndex = from;
    const b = begin.exec(text);
    if (b === null) break;
    end.lastIndex = b.index + b[0].length;
    const e = end.exec(text);
    // No END after this BEGIN: none after a later BEGIN either, so no block is left.
    if (e === null) break;
    from = e.index + e[0].length;
    blocks.push(text.slice(b.index, from));
  }
  return blocks;
}

/**
 * Why a non-empty CA bundle (a `ca` option: text, a Buffer or a list of them) trusts nothing, or
 * `undefined` when it is usable: `'none'` when it holds no PEM certificate block at all (a file
 * path given instead of the file's text, a DER file, a key), `'unreadable'` when a block cannot be
 * read (Node ignores it and every certificate after it). Node takes either without a word, and
 * every handshake then fails as if the server's CA were the wrong one.
 */
export function caBundleProblem(
  ca: string | Uint8Array | readonly (string | Uint8Array)[],
): 'none' | 'unreadable' | undefined {
  const texts = (Array.isArray(ca) ? ca : [ca]).map((x: string | Uint8Array) =>
    typeof x === 'string' ? x : Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('latin1'),
  );
  const blocks = texts.flatMap((t) => pemCertificateBlocks(t));
  if (blocks.length === 0) return 'none';
  for (const block of blocks) {
    // OpenSSL's TRUSTED form, which X509Certificate does not read
    if (block.startsWith('-----BEGIN TRUSTED')) continue;
    try {
      new X509Certificate(block);
    } catch {
      return 'unreadable';
    }
  }
  return undefined;
}
