import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { classifyAddress } from '../../../lib/ip-class.js';
import { checkWebhookUrl, guardedLookup, systemResolver } from '../../../src/webhooks/address-guard.js';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.1.2', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['93.184.216.34', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['2606:4700::1111', 'public'],
    ['not-an-ip', 'invalid'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });
});

const fixed =
  (table: Record<string, LookupAddress[]>) =>
  async (name: string): Promise<LookupAddress[]> =>
    table[name] ?? [];

describe('checkWebhookUrl', () => {
  it('refuses the system resolver’s localhost (from /etc/hosts, no network needed)', async () => {
    await expect(checkWebhookUrl('http://localhost:3000/hook', systemResolver)).rejects.toThrow(/localhost resolves to (127\.0\.0\.1|::1), which is a loopback address/);
  });

  it('accepts a name whose every address is public, and refuses one with a single private address among them', async () => {
    const resolve = fixed({ 'ok.test': [{ address: '93.184.216.34', family: 4 }], 'mixed.test': [{ address: '93.184.216.34', family: 4 }, { address: 'fd00::1', family: 6 }] });
    await expect(checkWebhookUrl('https://ok.test/x', resolve)).resolves.toBeUndefined();
    await expect(checkWebhookUrl('https://mixed.test/x', resolve)).rejects.toThrow('mixed.test resolves to fd00::1, which is a private address');
    await expect(checkWebhookUrl('https://gone.test/x', resolve)).rejects.toThrow('gone.test does not resolve');
  });

  it('reads IP literals in every form the URL parser accepts', async () => {
    const none = fixed({});
    for (const url of ['http://0x7f.1/', 'http://2130706433/', 'http://127.1/', 'http://[0:0:0:0:0:ffff:7f00:1]/', 'http://[::ffff:169.254.169.254]/']) {
      await expect(checkWebhookUrl(url, none), url).rejects.toThrow(/loopback|metadata/);
    }
  });
});

describe('guardedLookup', () => {
  const lookupOnce = (resolve: Parameters<typeof guardedLookup>[0], all: boolean) =>
    new Promise<{ err: Error | null; address: unknown; family?: number }>((done) =>
      guardedLookup(resolve)('host.test', { all }, (err, address, family) => done({ err, address, family })),
    );

  it('hands the socket the checked addresses only', async () => {
    const resolve = fixed({ 'host.test': [{ address: '93.184.216.34', family: 4 }] });
    expect(await lookupOnce(resolve, false)).toEqual({ err: null, address: '93.184.216.34', family: 4 });
    expect(await lookupOnce(resolve, true)).toEqual({ err: null, address: [{ address: '93.184.216.34', family: 4 }], family: undefined });
  });

  it('fails the connection when the name now resolves to a loopback address', async () => {
    const { err } = await lookupOnce(fixed({ 'host.test': [{ address: '127.0.0.1', family: 4 }] }), false);
    expect(err?.message).toBe('host.test resolves to 127.0.0.1, which is a loopback address');
  });
});
