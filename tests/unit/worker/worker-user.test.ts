import { describe, expect, it } from 'vitest';
import { resolveWorkerUser } from '../../../src/worker/worker-user.js';

describe('resolveWorkerUser', () => {
  it('is null when the supervisor is not root: workers keep its user, WORKER_USER is ignored', () => {
    expect(resolveWorkerUser('no-such-user-wa-fleet', 1000)).toBeNull();
  });

  it('as root, finds the account through NSS', () => {
    expect(resolveWorkerUser('nobody', 0)).toEqual({ name: 'nobody', uid: 65534, gid: 65534 });
  });

  it('as root, refuses a missing user with one line naming WORKER_USER and the script that creates it', () => {
    expect(() => resolveWorkerUser('no-such-user-wa-fleet', 0)).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        setting: 'WORKER_USER',
        message: 'WORKER_USER: user "no-such-user-wa-fleet" does not exist; create it with: bash scripts/ensure-worker-user.sh',
      }),
    );
  });

  it('as root, refuses root itself as the worker user', () => {
    expect(() => resolveWorkerUser('root', 0)).toThrow(expect.objectContaining({ setting: 'WORKER_USER' }));
  });
});
