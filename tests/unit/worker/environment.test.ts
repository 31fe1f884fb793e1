import { describe, expect, it } from 'vitest';
import { workerEnvironment } from '../../../src/worker/environment.js';

describe('workerEnvironment', () => {
  it('keeps what a browser needs and drops everything else, secrets first', () => {
    const kept = workerEnvironment({
      PATH: '/usr/bin',
      HOME: '/home/wa',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      XDG_RUNTIME_DIR: '/run/user/1000',
      TZ: 'UTC',
      HTTPS_PROXY: 'http://proxy:3128',
      API_KEY: 'k',
      WEBHOOK_SECRET: 's',
      MYSQL_URL: 'mysql://u:p@h/db',
      AWS_SECRET_ACCESS_KEY: 'x',
      NODE_OPTIONS: '--require evil.js',
      WA_FLEET_FAKE_WEB: 'true',
    });
    expect(kept).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/wa',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      XDG_RUNTIME_DIR: '/run/user/1000',
      TZ: 'UTC',
      HTTPS_PROXY: 'http://proxy:3128',
    });
  });
});
