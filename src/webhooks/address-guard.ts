import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { classifyAddress, type AddressClass } from '../../lib/ip-class.js';

/*
 * Webhook URLs chosen by an instance's own key must not make the supervisor reach into its own
 * network (SSRF): no loopback, private, link-local, CGNAT, unspecified or cloud-metadata address,
 * whether written as an IP or reached through a name. Checked when the URL is set, and again when
 * each delivery connects (the name may resolve elsewhere by then: DNS rebinding), connecting to
 * the very address that was checked.
 */

/** Resolves a host name to every address it has. Injectable, so tests need no DNS. */
export type ResolveHost = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: ResolveHost = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** A URL the guard refuses, with a reason safe to show to the key that set it. */
export class ForbiddenAddressError extends Error {
  constructor(
    message: string,
    readonly addressClass: AddressClass | 'unresolvable',
  ) {
    super(message);
    this.name = 'ForbiddenAddressError';
  }
}

/** The host of a URL as an IP literal (brackets of IPv6 removed), or null when it is a name. */
export function ipLiteral(hostname: string): string | null {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(bare) === 0 ? null : bare;
}

function refuse(host: string, address: string, kind: AddressClass): never {
  const where = host === address ? host : `${host} resolves to ${address}, which`;
  throw new ForbiddenAddressError(`${where} is a ${kind} address`, kind);
}

/**
 * The addresses `hostname` may be reached at, every one of them public; ForbiddenAddressError
 * when any is not (a name with one private address among public ones could be steered to it) or
 * the name does not resolve.
 */
export async function publicAddresses(hostname: string, resolve: ResolveHost): Promise<LookupAddress[]> {
  const literal = ipLiteral(hostname);
  if (literal !== null) {
    const kind = classifyAddress(literal);
    if (kind !== 'public') refuse(literal, literal, kind);
    return [{ address: literal, family: isIP(literal) }];
  }
  let found: LookupAddress[];
  try {
    found = await resolve(hostname.replace(/\.$/, '') || hostname);
  } catch {
    found = [];
  }
  if (found.length === 0) throw new ForbiddenAddressError(`${hostname} does not resolve`, 'unresolvable');
  for (const { address } of found) {
    const kind = classifyAddress(address);
    if (kind !== 'public') refuse(hostname, address, kind);
  }
  return found;
}

/** Checks a webhook URL set by an instance's key: its host, and every address its name resolves to. */
export async function checkWebhookUrl(url: string, resolve: ResolveHost): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ForbiddenAddressError('not a URL', 'invalid');
  }
  await publicAddresses(parsed.hostname, resolve);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request/net.connect that resolves through `resolve`, refuses when any
 * address is not public, and hands the socket only the checked addresses: what is connected to
 * is what was checked. (An IP literal never reaches a lookup: check it with publicAddresses first.)
 */
export function guardedLookup(resolve: ResolveHost) {
  return (hostname: string, options: { all?: boolean } | number | undefined, callback: LookupCallback): void => {
    const all = typeof options === 'object' && options?.all === true;
    publicAddresses(hostname, resolve).then(
      (addresses) => (all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family)),
      (err: Error) => callback(err, ''),
    );
  };
}
