import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PART_BYTES, PartAssembler, partCount, partOf, sha256Hex, SESSION_REQUEST_SCHEMAS } from '../../../src/worker/session-transfer.js';

const blob = (size: number) => randomBytes(size);

function split(data: Buffer): Buffer[] {
  return Array.from({ length: partCount(data.length) }, (_, i) => partOf(data, i));
}

describe('session backup parts', () => {
  it('splits a backup into parts of PART_BYTES, the last one shorter, an empty one into one empty part', () => {
    expect(partCount(0)).toBe(1);
    expect(partCount(PART_BYTES)).toBe(1);
    expect(partCount(PART_BYTES + 1)).toBe(2);
    const data = blob(2 * PART_BYTES + 10);
    expect(split(data).map((p) => p.length)).toEqual([PART_BYTES, PART_BYTES, 10]);
    expect(Buffer.concat(split(data)).equals(data)).toBe(true);
  });

  it('puts parts back together in order and checks size and SHA-256', () => {
    const data = blob(PART_BYTES + 123);
    const a = new PartAssembler(data.length, sha256Hex(data));
    for (const [i, part] of split(data).entries()) a.add(i, part);
    expect(a.complete).toBe(true);
    expect(a.finish().equals(data)).toBe(true);
  });

  it('refuses a part out of order, a part of the wrong length, and a whole whose SHA-256 differs', () => {
    const data = blob(PART_BYTES + 5);
    const parts = split(data);
    expect(() => new PartAssembler(data.length, sha256Hex(data)).add(1, parts[1]!)).toThrow(/part 1 arrived, part 0 was expected/);
    expect(() => new PartAssembler(data.length, sha256Hex(data)).add(0, parts[0]!.subarray(1))).toThrow(/holds \d+ bytes, not/);
    const tampered = new PartAssembler(data.length, sha256Hex(data));
    tampered.add(0, parts[0]!);
    tampered.add(1, Buffer.from('xxxxx'));
    expect(() => tampered.finish()).toThrow(expect.objectContaining({ code: 'SESSION_TRANSFER_FAILED', message: expect.stringMatching(/SHA-256/) }));
    expect(() => new PartAssembler(data.length, sha256Hex(data)).finish()).toThrow(/0 of 2 parts/);
  });

  it('refuses a backup over the size allowed before any part is taken', () => {
    expect(() => new PartAssembler(1001, 'a'.repeat(64), 1000)).toThrow(expect.objectContaining({ code: 'SESSION_TOO_LARGE' }));
  });

  it('checks requests at the boundary: a part over PART_BYTES, not base64, a SHA-256 that is not hex', () => {
    const ok = { session: 'RemoteAuth-a', part: 0, size: 3, sha256: sha256Hex(Buffer.from('abc')), data: Buffer.from('abc').toString('base64') };
    expect(SESSION_REQUEST_SCHEMAS.save.safeParse(ok).success).toBe(true);
    expect(SESSION_REQUEST_SCHEMAS.save.safeParse({ ...ok, data: 'A'.repeat(Math.ceil(PART_BYTES / 3) * 4 + 4) }).success).toBe(false);
    expect(SESSION_REQUEST_SCHEMAS.save.safeParse({ ...ok, data: 'not base64!' }).success).toBe(false);
    expect(SESSION_REQUEST_SCHEMAS.save.safeParse({ ...ok, sha256: 'Z'.repeat(64) }).success).toBe(false);
    expect(SESSION_REQUEST_SCHEMAS.save.safeParse({ ...ok, size: 2 ** 40 }).success).toBe(false);
  });
});
