import { BlockList, isIP } from 'node:net';

/*
 * What kind of address an IP is, for deciding whether a URL someone else chose may be fetched
 * from this host (SSRF): only `public` addresses are safe to connect to on a stranger's behalf.
 * Generic: no knowledge of webhooks or WhatsApp.
 */

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'unspecified'
  | 'metadata'
  | 'multicast'
  | 'reserved'
  | 'invalid';

/** Checked first: single addresses with a name of their own inside wider ranges. */
const METADATA = ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200'];

const RANGES: ReadonlyArray<[AddressClass, string, number, 'ipv4' | 'ipv6']> = [
  ['unspecified', '0.0.0.0', 8, 'ipv4'], // "this network": 0.0.0.0 reaches the local host on Linux
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['cgnat', '100.64.0.0', 10, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['reserved', '192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['reserved', '198.18.0.0', 15, 'ipv4'], // benchmarking, often routed to internal gear
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'], // and 255.255.255.255
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '::1', 128, 'ipv6'],
  ['private', 'fc00::', 7, 'ipv6'], // unique local
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['private', 'fec0::', 10, 'ipv6'], // deprecated site-local
  ['multicast', 'ff00::', 8, 'ipv6'],
  ['reserved', '100::', 64, 'ipv6'], // discard-only
];

const lists = new Map<AddressClass, BlockList>();
for (const [kind, address, prefix, family] of RANGES) {
  const list = lists.get(kind) ?? new BlockList();
  list.addSubnet(address, prefix, family);
  lists.set(kind, list);
}

/** The 16 bytes of an IPv6 address (node's BlockList does not expose them). */
function ipv6Bytes(text: string): number[] {
  const canonical = new URL(`http://[${text}]`).hostname.slice(1, -1);
  const [head = '', tail] = canonical.split('::');
  const groups = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((g) => [g >> 8, g & 255]);
}

/**
 * An IPv4 address carried inside an IPv6 one that reaches it: IPv4-mapped (`::ffff:a.b.c.d`),
 * IPv4-compatible (`::a.b.c.d`, deprecated), NAT64 (`64:ff9b::/96`) and 6to4 (`2002:AABB:CCDD::/48`).
 */
function embeddedIpv4(text: string): string | null {
  const b = ipv6Bytes(text);
  const v4 = (at: number) => b.slice(at, at + 4).join('.');
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12);
  if (zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && b[15] === 1)) return v4(12);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return v4(12);
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2);
  return null;
}

/** The class of an IP address (a zone suffix `%eth0` is ignored); `invalid` when it is none. */
export function classifyAddress(raw: string): AddressClass {
  const text = raw.trim().replace(/^\[(.*)\]$/, '$1').replace(/%[^%]*$/, '');
  const family = isIP(text);
  if (family === 0) return 'invalid';
  if (family === 6) {
    const canonical = new URL(`http://[${text}]`).hostname.slice(1, -1);
    if (METADATA.includes(canonical)) return 'metadata';
    const inner = embeddedIpv4(canonical);
    if (inner !== null) return classifyAddress(inner);
  } else if (METADATA.includes(text)) {
    return 'metadata';
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [kind, list] of lists) if (list.check(text, type)) return kind;
  return 'public';
}

/** True when connecting to `address` on someone else's say-so reaches only the public internet. */
export function isPublicAddress(address: string): boolean {
  return classifyAddress(address) === 'public';
}
