/**
 * The address a server of ours binds to (the metrics endpoint's `host`, from `createMetrics` and
 * from the config's `metrics:` section alike), read once at create/load time:
 *
 * - `[::1]` (the bracketed form copied from a URL) is `::1`; it failed late with ENOTFOUND.
 * - every IP spelling the resolver accepts (`127.1`, `0x7f.1`, `0:0:0:0:0:0:0:1`,
 *   `::ffff:127.0.0.1`) is judged loopback or not by its address, not by its text: `0x7f.1` and
 *   `::ffff:127.0.0.1` got a wrong "beyond loopback" warning, and a host name such as
 *   `127.example.com` (which may resolve anywhere) was taken for loopback because it starts
 *   with "127.".
 * - `localhost` is loopback in any case, with or without its trailing dot.
 * - what cannot be bound or printed in a URL (an IPv6 zone id `fe80::1%lo`, a name with
 *   characters no host name has, a malformed number such as `999.1`) is refused with a message
 *   saying what to write, instead of failing at listen().
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface BindHost {
  /** What `listen()` is given (brackets removed). */
  readonly bind: string;
  /** How it is written in a URL (`[::1]`, `127.0.0.1`, `example.internal`). */
  readonly shown: string;
  /** Only this machine can connect. */
  readonly loopback: boolean;
}

/** Letters, digits, "-", "_" (container names) and dots: a host name, or a numeric IPv4 form. */
const NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?$/;

const v4Loopback = (ip: string) => ip.startsWith('127.');

/** IPv6 text → its canonical form (`0:0:0:0:0:0:0:1` → `::1`, `::ffff:127.0.0.1` → `::ffff:7f00:1`). */
const canonicalV6 = (ip: string) => new URL(`http://[${ip}]/`).hostname.slice(1, -1);

/**
 * Reads `host`; returns what to bind and show, or a message saying why it cannot be used
 * (the caller throws its own typed error with it). The message quotes the host unless `echo` is
 * false: config messages never print values, but should still give the reason (a zone id,
 * brackets), not only "is not in an accepted form".
 */
export function readBindHost(host: string, echo = true): BindHost | string {
  const received = echo ? ` (received ${JSON.stringify(host.slice(0, 64))})` : '';
  const inner = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (inner.includes('%'))
    return `an IPv6 zone id cannot be bound to${received}: use "::" or an address without "%zone"`;
  if (isIPv6(inner)) {
    const ip = canonicalV6(inner);
    return { bind: inner, shown: `[${ip}]`, loopback: ip === '::1' || /^::ffff:7f[0-9a-f]{2}:/.test(ip) };
  }
  if (inner !== host)
    return `only an IPv6 address goes in brackets${received}: write a name or IPv4 address without them`;
  if (isIPv4(host)) return { bind: host, shown: host, loopback: v4Loopback(host) };
  if (!NAME.test(host) || host.length > 253)
    return `not a host name (letters, digits, "-", "_" and dots) nor an IP address${received}`;
  let parsed: string;
  try {
    parsed = new URL(`http://${host}/`).hostname;
  } catch {
    // All-numeric labels the resolver would not read either ("999.1", "1.2.3.4.5").
    return `not a valid IPv4 address${received}`;
  }
  // A shortened or hexadecimal IPv4 form (`127.1`, `0x7f.1`, `2130706433`), which listen() accepts.
  if (isIPv4(parsed)) return { bind: parsed, shown: parsed, loopback: v4Loopback(parsed) };
  // `localhost.` is not in /etc/hosts (ENOTFOUND at listen()): bound as `localhost`.
  if (parsed === 'localhost' || parsed === 'localhost.')
    return { bind: 'localhost', shown: 'localhost', loopback: true };
  return { bind: host, shown: host, loopback: false };
}
