import { describe, expect, it } from 'vitest';
import { clientBucket, FailedAttempts, trustProxies } from '../../../src/api/auth.js';
import { parseIpRange, type IpRange } from '../../../src/config/addresses.js';

const ranges = (...items: string[]) => items.map((i) => parseIpRange(i)).filter((r): r is IpRange => r !== null);

describe('clientBucket', () => {
  it('puts IPv6 addresses of one /64 in one bucket, and another /64 in another', () => {
    const a = clientBucket('2001:db8:1:2::1');
    expect(a).toBe('2001:db8:1:2::/64');
    expect(clientBucket('2001:DB8:1:2:ffff:ffff:ffff:ffff')).toBe(a);
    expect(clientBucket('2001:0db8:0001:0002:0:0:0:abcd')).toBe(a);
    expect(clientBucket('2001:db8:1:3::1')).not.toBe(a);
    expect(clientBucket('2001:db8:1:2::1%eth0')).toBe(a);
    expect(clientBucket('::1')).toBe('0:0:0:0::/64');
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 address, and IPv4 per address', () => {
    expect(clientBucket('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(clientBucket('::ffff:102:304')).toBe('1.2.3.4');
    expect(clientBucket('1.2.3.4')).toBe('1.2.3.4');
    expect(clientBucket('1.2.3.5')).not.toBe(clientBucket('1.2.3.4'));
  });

  it('puts what is no address in one bucket', () => {
    expect(clientBucket(undefined)).toBe('unknown');
    expect(clientBucket('not an ip')).toBe('unknown');
  });
});

describe('FailedAttempts', () => {
  it('blocks a bucket at the limit until its window is over, then counts afresh', () => {
    const attempts = new FailedAttempts(3, 60_000);
    expect(attempts.fail('a', 0)).toBe(false);
    expect(attempts.fail('a', 10)).toBe(false);
    expect(attempts.blockedFor('a', 20)).toBe(0);
    expect(attempts.fail('a', 20)).toBe(true);
    expect(attempts.blockedFor('a', 30)).toBe(59_970);
    expect(attempts.blockedFor('b', 30)).toBe(0);
    expect(attempts.blockedFor('a', 59_999)).toBe(1);
    expect(attempts.blockedFor('a', 60_000)).toBe(0);
    expect(attempts.fail('a', 60_000)).toBe(false);
    expect(attempts.blockedFor('a', 60_001)).toBe(0);
  });

  it('stays bounded under a spray of addresses: expired records go first, then the oldest', () => {
    const attempts = new FailedAttempts(1, 60_000, 100);
    for (let i = 0; i < 10_000; i++) attempts.fail(`spray-${i}`, 1_000 + i);
    expect(attempts.size).toBeLessThanOrEqual(100);
    // The newest are kept (and still blocked); the oldest were let go.
    expect(attempts.blockedFor('spray-9999', 11_000)).toBeGreaterThan(0);
    expect(attempts.blockedFor('spray-0', 11_000)).toBe(0);
    // Past the window a new record drops every expired one at the next shrink.
    for (let i = 0; i < 20; i++) attempts.fail(`late-${i}`, 200_000);
    expect(attempts.size).toBeLessThanOrEqual(100);
    expect(attempts.blockedFor('spray-9999', 200_000)).toBe(0);
  });
});

describe('trustProxies', () => {
  it('trusts only the listed addresses and ranges, IPv4-mapped or not', () => {
    const trust = trustProxies(ranges('127.0.0.1', '10.0.0.0/8', 'fd00::/8'));
    expect(trust('127.0.0.1')).toBe(true);
    expect(trust('::ffff:127.0.0.1')).toBe(true);
    expect(trust('10.200.3.4')).toBe(true);
    expect(trust('fd12::1')).toBe(true);
    expect(trust('127.0.0.2')).toBe(false);
    expect(trust('11.0.0.1')).toBe(false);
    expect(trust('fe80::1')).toBe(false);
    expect(trust('garbage')).toBe(false);
  });

  it('trusts nothing when no proxy is listed', () => {
    const trust = trustProxies([]);
    expect(trust('127.0.0.1')).toBe(false);
    expect(trust('::1')).toBe(false);
  });
});
