import { describe, expect, it } from 'vitest';
import { chromiumArgs } from '../../../src/worker/chromium-args.js';

const UNSANDBOXED = ['--no-sandbox', '--single-process', '--no-zygote'];

describe('chromiumArgs', () => {
  it('BROWSER_SANDBOX=on keeps Chromium its sandbox and its own processes', () => {
    expect(chromiumArgs(true).filter((a) => UNSANDBOXED.includes(a))).toEqual([]);
  });

  it('BROWSER_SANDBOX=off runs one browser process without the sandbox, all other flags alike', () => {
    const off = chromiumArgs(false);
    expect(off.filter((a) => UNSANDBOXED.includes(a))).toEqual(UNSANDBOXED);
    expect(off.filter((a) => !UNSANDBOXED.includes(a))).toEqual(chromiumArgs(true));
  });
});
