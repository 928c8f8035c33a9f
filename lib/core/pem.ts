/** PEM certificate blocks of a CA bundle, found in one pass (for the TLS checks of every adapter). */

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
