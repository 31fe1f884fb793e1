import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureSessionRoot, instanceOfProfile, profileDir } from '../../../src/worker/session-path.js';
import { tempSessionRoot } from '../../support/workers.js';

describe('profileDir', () => {
  const root = '/srv/wa/sessions';

  it('puts an instance in session-<id> directly under the root', () => {
    expect(profileDir(root, 'sales-01')).toBe('/srv/wa/sessions/session-sales-01');
    expect(profileDir('relative/root', 'a_b')).toBe(join(process.cwd(), 'relative/root/session-a_b'));
  });

  it.each(['../../etc', '..', '.', 'a/b', 'a\\b', '', 'x'.repeat(65), 'sales 01', '%2e%2e', 'ünï', 'a\0b'])(
    'refuses the id %j',
    (id) => {
      expect(() => profileDir(root, id)).toThrow(expect.objectContaining({ code: 'INVALID_INSTANCE_ID' }));
    },
  );

  it('maps profile folder names back to instance ids, and nothing else', () => {
    expect(instanceOfProfile('session-sales-01')).toBe('sales-01');
    expect(instanceOfProfile('.fake-web')).toBeNull();
    expect(instanceOfProfile('session-../x')).toBeNull();
  });
});

describe('ensureSessionRoot', () => {
  it('creates the root readable by its owner only', () => {
    const root = join(tempSessionRoot(), 'nested', 'root');
    expect(ensureSessionRoot(root)).toBe(root);
    expect(statSync(root).mode & 0o777).toBe(0o700);
  });
});
