import { unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve, sep } from 'node:path';

/** The part of unzipper (an optional dependency of whatsapp-web.js, untyped) used here. */
interface UnzipperOpen {
  Open: {
    file(path: string): Promise<{
      files: Array<{ path: string; type: string }>;
      extract(options: { path: string; concurrency?: number }): Promise<unknown>;
    }>;
  };
}
const unzipper = createRequire(import.meta.url)('unzipper') as UnzipperOpen;

/**
 * Unzips a stored session into `dest` and deletes the zip, as RemoteAuth's unCompressSession does,
 * but from the zip's central directory (`unzipper.Open`) instead of its streaming `Extract`.
 * archiver writes each entry with a data descriptor (sizes after the data), and the streaming
 * parser finds an entry's end by searching for the descriptor's signature `PK\x07\x08`: when the
 * compressed bytes happen to hold it (incompressible data such as media in IndexedDB is stored
 * raw), the entry is cut short and the restore fails with zlib's "unexpected end of file". Measured
 * here: a 16 MiB profile failed to restore that way. Every entry is also checked to stay inside
 * `dest` before anything is written.
 */
export async function extractSessionZip(zipPath: string, dest: string): Promise<void> {
  const root = resolve(dest);
  const directory = await unzipper.Open.file(zipPath);
  for (const entry of directory.files) {
    const target = resolve(root, entry.path);
    if (target !== root && !target.startsWith(root + sep)) throw new Error(`the stored session holds a path outside its profile: ${entry.path.slice(0, 200)}`);
  }
  await directory.extract({ path: root, concurrency: 4 });
  await unlink(zipPath);
}
