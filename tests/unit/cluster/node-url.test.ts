import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { nodeUrl } from '../../../src/cluster/node-url.js';

describe('nodeUrl: how the other nodes reach this one', () => {
  it('is NODE_URL when set, without a trailing slash', () => {
    expect(nodeUrl({ nodeUrl: 'https://n2.lan:8443/', host: '0.0.0.0', port: 3000 })).toBe('https://n2.lan:8443');
  });

  it('is the bound address and the port the API really got (PORT=0)', () => {
    expect(nodeUrl({ nodeUrl: undefined, host: '10.0.0.7', port: 0 }, 41234)).toBe('http://10.0.0.7:41234');
    expect(nodeUrl({ nodeUrl: undefined, host: '::1', port: 3000 })).toBe('http://[::1]:3000');
  });

  it('is the host name when HOST binds every address: 0.0.0.0 is no address to reach', () => {
    expect(nodeUrl({ nodeUrl: undefined, host: '0.0.0.0', port: 3000 })).toBe(`http://${hostname()}:3000`);
  });
});
