import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractSessionZip } from '../../../src/worker/session-zip.js';

// The two libraries RemoteAuth zips and unzips with (optional dependencies of whatsapp-web.js, untyped).
const require = createRequire(import.meta.url);
const archiver = require('archiver') as (format: 'zip') => {
  pipe(out: NodeJS.WritableStream): void;
  append(data: Buffer, options: { name: string }): void;
  finalize(): Promise<void>;
};
const unzipper = require('unzipper') as { Extract(options: { path: string; concurrency?: number }): NodeJS.WritableStream };

/** A zip made the way RemoteAuth's compressSession makes one (archiver, default deflate, data descriptors). */
async function zipOf(entries: Record<string, Buffer>): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'session-zip-')), 'RemoteAuth-a.zip');
  const archive = archiver('zip');
  const out = createWriteStream(path);
  const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));
  archive.pipe(out);
  for (const [name, data] of Object.entries(entries)) archive.append(data, { name });
  await archive.finalize();
  await closed;
  return path;
}

/** Media-like bytes (incompressible, so deflate stores them raw) that hold the data-descriptor signature. */
function bytesHoldingTheSignature(): Buffer {
  const data = randomBytes(1024 * 1024);
  data.write('PK\x07\x08', 300_000, 'latin1');
  return data;
}

const streamingExtract = (zip: string, dest: string) =>
  new Promise<void>((resolve, reject) => {
    createReadStream(zip).pipe(unzipper.Extract({ path: dest, concurrency: 10 })).on('error', reject).on('finish', () => resolve());
  });

describe('unzipping a stored session', () => {
  it('restores an entry whose compressed bytes hold the data-descriptor signature (RemoteAuth\'s streaming unzip fails on it)', async () => {
    const blob = bytesHoldingTheSignature();
    const entries = { 'Default/IndexedDB/x.blob/1/00/2': blob, 'Default/IndexedDB/x.leveldb/CURRENT': Buffer.from('MANIFEST-000001\n') };
    const zip = await zipOf(entries);
    const dest = mkdtempSync(join(tmpdir(), 'profile-'));
    // What RemoteAuth 1.34.7 does (unCompressSession): fails, which is why it is replaced.
    await expect(streamingExtract(zip, join(dest, 'streaming'))).rejects.toThrow(/unexpected end of file/);
    await extractSessionZip(zip, join(dest, 'RemoteAuth-a'));
    expect(readFileSync(join(dest, 'RemoteAuth-a', 'Default/IndexedDB/x.blob/1/00/2')).equals(blob)).toBe(true);
    expect(readFileSync(join(dest, 'RemoteAuth-a', 'Default/IndexedDB/x.leveldb/CURRENT'), 'utf8')).toBe('MANIFEST-000001\n');
    expect(existsSync(zip)).toBe(false);
  });

  it('refuses a zip with an entry outside the profile, writing nothing', async () => {
    const zip = await zipOf({ 'Default/ok': Buffer.from('ok'), 'aa/evil': Buffer.from('evil') });
    // archiver cleans "../" out of names; a hostile zip is not made by archiver: rename the entry in place.
    writeFileSync(zip, Buffer.from(readFileSync(zip).toString('latin1').replaceAll('aa/evil', '../evil'), 'latin1'));
    const parent = mkdtempSync(join(tmpdir(), 'profile-'));
    await expect(extractSessionZip(zip, join(parent, 'RemoteAuth-a'))).rejects.toThrow(/outside its profile: \.\.\/evil/);
    expect(existsSync(join(parent, 'evil'))).toBe(false);
    expect(existsSync(join(parent, 'RemoteAuth-a', 'Default', 'ok'))).toBe(false);
  });
});
