import { describe, expect, it } from 'vitest';
import { ipv6Groups, parseIp, parseIpRange } from '../../../src/config/addresses.js';

describe('parseIp', () => {
  it.each([
    ['1.2.3.4', { family: 'ipv4', address: '1.2.3.4' }],
    ['::ffff:1.2.3.4', { family: 'ipv4', address: '1.2.3.4' }],
    ['::FFFF:0102:0304', { family: 'ipv4', address: '1.2.3.4' }],
    ['2001:DB8:0:0::1', { family: 'ipv6', address: '2001:db8::1' }],
    ['fe80::1%eth0', { family: 'ipv6', address: 'fe80::1' }],
    ['64:ff9b::1.2.3.4', { family: 'ipv6', address: '64:ff9b::102:304' }],
  ])('%s', (raw, parsed) => {
    expect(parseIp(raw)).toEqual(parsed);
  });

  it.each(['', 'unknown', '1.2.3', '1.2.3.256', '01.2.3.4', '2001:db8::1::2', '[::1]', '::1/128'])('refuses %j', (raw) => {
    expect(parseIp(raw)).toBeNull();
  });
});

describe('ipv6Groups', () => {
  it('expands every form to eight groups', () => {
    expect(ipv6Groups('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(ipv6Groups('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(ipv6Groups('2001:db8::')).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]);
    expect(ipv6Groups('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(ipv6Groups('1::2:3:4:5:6:7')).toEqual([1, 0, 2, 3, 4, 5, 6, 7]);
  });
});

describe('parseIpRange', () => {
  it('reads addresses and CIDR ranges of both families', () => {
    expect(parseIpRange('10.0.0.0/8')).toEqual({ family: 'ipv4', address: '10.0.0.0', prefix: 8 });
    expect(parseIpRange('192.0.2.7')).toEqual({ family: 'ipv4', address: '192.0.2.7', prefix: 32 });
    expect(parseIpRange('2001:DB8::/32')).toEqual({ family: 'ipv6', address: '2001:db8::', prefix: 32 });
    expect(parseIpRange('::1')).toEqual({ family: 'ipv6', address: '::1', prefix: 128 });
  });

  it.each(['', 'proxy.lan', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/-1', '10.0.0.0/x', 'fe80::1%eth0'])('refuses %j', (raw) => {
    expect(parseIpRange(raw)).toBeNull();
  });
});
