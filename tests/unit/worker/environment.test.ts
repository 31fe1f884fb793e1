import { describe, expect, it } from 'vitest';
import { browserHome, workerEnvironment } from '../../../src/worker/environment.js';

const SUPERVISOR_ENV = {
  PATH: '/usr/bin',
  HOME: '/root',
  USER: 'root',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  XDG_RUNTIME_DIR: '/run/user/0',
  XDG_CONFIG_HOME: '/root/.config',
  XDG_DATA_DIRS: '/usr/share',
  TZ: 'UTC',
  HTTPS_PROXY: 'http://proxy:3128',
  API_KEY: 'k',
  WEBHOOK_SECRET: 's',
  MYSQL_URL: 'mysql://u:p@h/db',
  AWS_SECRET_ACCESS_KEY: 'x',
  NODE_OPTIONS: '--require evil.js',
  WA_FLEET_FAKE_WEB: 'true',
  WA_FLEET_TEST_RUN: '1-2',
};

describe('workerEnvironment', () => {
  it('keeps what a browser needs and drops everything else, secrets and the per-user XDG folders first', () => {
    expect(workerEnvironment(SUPERVISOR_ENV)).toEqual({
      PATH: '/usr/bin',
      HOME: '/root',
      USER: 'root',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      XDG_DATA_DIRS: '/usr/share',
      TZ: 'UTC',
      HTTPS_PROXY: 'http://proxy:3128',
      WA_FLEET_TEST_RUN: '1-2',
    });
  });

  it("gives a worker running as another user that user's name and a home of its own, nothing of the supervisor's home", () => {
    const home = browserHome('/srv/sessions/session-a');
    const env = workerEnvironment(SUPERVISOR_ENV, { name: 'wa-fleet-worker', home });
    expect(env).toMatchObject({
      USER: 'wa-fleet-worker',
      LOGNAME: 'wa-fleet-worker',
      HOME: '/srv/sessions/session-a/home',
      XDG_CONFIG_HOME: '/srv/sessions/session-a/home/.config',
      XDG_CACHE_HOME: '/srv/sessions/session-a/home/.cache',
    });
    expect(Object.values(env).filter((v) => v?.startsWith('/root'))).toEqual([]);
  });
});
