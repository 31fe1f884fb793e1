import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScript } from '../../support/run-script.js';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';
const TIMEOUT_MS = 10_000;

const ensureChromium = (chromePath: string | undefined) =>
  runScript('ensure-chromium.sh', [], { CHROME_PATH: chromePath }, TIMEOUT_MS);

describe('scripts/ensure-chromium.sh', () => {
  it('prints CHROME_PATH when it names an executable file', async () => {
    const dir = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? tmpdir(), 'ensure-chromium-'));
    const browser = join(dir, 'my-chrome');
    writeFileSync(browser, '#!/bin/sh\n');
    chmodSync(browser, 0o755);

    const { stdout } = await ensureChromium(browser);

    expect(stdout).toBe(`${browser}\n`);
  });

  it('falls back to /usr/bin/chromium, saying why, when CHROME_PATH names a missing file', async () => {
    const { stdout, stderr } = await ensureChromium('/nonexistent/chrome');

    expect(stdout).toBe(`${DEBIAN_CHROMIUM}\n`);
    expect(stderr).toContain('CHROME_PATH=/nonexistent/chrome is not an executable file');
  });

  it('prints /usr/bin/chromium when CHROME_PATH is not set', async () => {
    const { stdout } = await ensureChromium(undefined);

    expect(stdout).toBe(`${DEBIAN_CHROMIUM}\n`);
  });
});
