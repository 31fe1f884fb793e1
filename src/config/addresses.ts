import { isIP } from 'node:net';

export type IpFamily = 'ipv4' | 'ipv6';

export interface IpAddress {
  family: IpFamily;
  /** Canonical text: dotted IPv4, or lower-case compressed IPv6. */
  address: string;
}

/** A CIDR range (a single address is a /32 or /128). */
export interface IpRange extends IpAddress {
  prefix: number;
}

/** The WHATWG URL parser's serialisation: lower case, `::` compression, a dotted tail in hex. */
const canonicalIpv6 = (text: string) => new URL(`http://[${text}]`).hostname.slice(1, -1);

/** The eight 16-bit groups of a valid IPv6 address. */
export function ipv6Groups(text: string): number[] {
  const canonical = canonicalIpv6(text);
  const groups = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  if (!canonical.includes('::')) return groups(canonical);
  const [head, tail] = canonical.split('::');
  const h = groups(head);
  const t = groups(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/**
 * An address as a socket or a header gives it, or null when it is none. A zone (`fe80::1%eth0`)
 * is dropped, and an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a dual-stack listener
 * reports for an IPv4 client) is the IPv4 address it carries.
 */
export function parseIp(raw: string): IpAddress | null {
  const text = raw.trim();
  if (isIP(text) === 4) return { family: 'ipv4', address: text };
  const unzoned = text.replace(/%[^%]*$/, '');
  if (isIP(unzoned) !== 6) return null;
  const g = ipv6Groups(unzoned);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return { family: 'ipv4', address: [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join('.') };
  }
  return { family: 'ipv6', address: canonicalIpv6(unzoned) };
}

/** `10.0.0.0/8`, `2001:db8::/32` or a single address; null when it is neither. */
export function parseIpRange(raw: string): IpRange | null {
  const [addressText, prefixText, ...rest] = raw.trim().split('/');
  if (rest.length > 0 || addressText === undefined || addressText.includes('%')) return null;
  const family = isIP(addressText);
  if (family === 0) return null;
  const bits = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return null;
  // The family as written: a range of IPv4-mapped IPv6 addresses keeps its IPv6 prefix length.
  return family === 4 ? { family: 'ipv4', address: addressText, prefix } : { family: 'ipv6', address: canonicalIpv6(addressText), prefix };
}
