import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors/index.js';
import { bareMimetype, checkMimetype, decodeBase64Media, filenameOf, MEDIA_TYPES, safeFilename } from '../../../src/messages/media.js';

function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('did not throw');
}

describe('checkMimetype', () => {
  it.each(MEDIA_TYPES.map((t) => [t]))('accepts %s', (type) => {
    expect(checkMimetype(type)).toBe(type);
  });

  it('names the Office formats one by one, not by a wildcard', () => {
    expect(MEDIA_TYPES).toEqual(
      expect.arrayContaining([
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        'application/vnd.openxmlformats-officedocument.presentationml.presentation',
      ]),
    );
    expect(() => checkMimetype('application/vnd.openxmlformats-officedocument.anything')).toThrow(AppError);
  });

  it('normalizes case and drops parameters', () => {
    expect(checkMimetype('Image/JPEG')).toBe('image/jpeg');
    expect(checkMimetype('text/plain; charset=utf-8')).toBe('text/plain');
    expect(checkMimetype('  application/pdf ;x=y')).toBe('application/pdf');
  });

  it.each(['image/gif', 'image/svg+xml', 'text/html', 'application/javascript', 'application/octet-stream', 'image', 'image/jpeg2', 'video/quicktime'])(
    'refuses %s as MEDIA_TYPE_UNSUPPORTED (415), listing what is accepted',
    (type) => {
      const err = thrown(() => checkMimetype(type));
      expect(err.code).toBe('MEDIA_TYPE_UNSUPPORTED');
      expect(err.status).toBe(415);
      expect(err.message).toContain(`"${type}"`);
      expect(err.message).toContain('image/jpeg, image/png');
    },
  );

  it('refuses a missing type, saying to give one', () => {
    for (const none of [null, '', '   ', ';charset=utf-8']) {
      const err = thrown(() => checkMimetype(none));
      expect(err.code).toBe('MEDIA_TYPE_UNSUPPORTED');
      expect(err.message).toContain('has no type');
    }
  });

  it('bareMimetype keeps only type/subtype in lower case', () => {
    expect(bareMimetype('Text/CSV; charset="utf-8"')).toBe('text/csv');
    expect(bareMimetype(undefined)).toBeNull();
    expect(bareMimetype('')).toBeNull();
  });
});

describe('decodeBase64Media', () => {
  const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255, 10]);

  it('decodes standard, padded base64', () => {
    expect(decodeBase64Media(bytes.toString('base64'), 100)).toEqual(bytes);
    expect(decodeBase64Media('QQ==', 1)).toEqual(Buffer.from('A'));
    expect(decodeBase64Media('QUI=', 2)).toEqual(Buffer.from('AB'));
    expect(decodeBase64Media('QUJD', 3)).toEqual(Buffer.from('ABC'));
  });

  it('strips a data: URL prefix', () => {
    expect(decodeBase64Media(`data:application/pdf;base64,${bytes.toString('base64')}`, 100)).toEqual(bytes);
    expect(decodeBase64Media(`DATA:image/png;name=x.png;BASE64,${bytes.toString('base64')}`, 100)).toEqual(bytes);
  });

  it.each([
    ['empty', ''],
    ['a data: URL with nothing after it', 'data:image/png;base64,'],
    ['spaces', 'QUJD QUJD'],
    ['a line break', 'QUJD\nQUJD'],
    ['the URL-safe alphabet', 'ab-_'],
    ['missing padding', 'QQ'],
    ['padding in the middle', 'QQ==QUJD'],
    ['three padding characters', 'Q==='],
    ['other characters', 'QUJ*'],
    ['a data: URL that is not base64', 'data:text/plain,hello'],
  ])('refuses %s as VALIDATION_FAILED', (_what, text) => {
    const err = thrown(() => decodeBase64Media(text, 1000));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toMatch(/^media\.base64 must be /);
  });

  it('accepts exactly maxBytes and refuses one byte more as MEDIA_TOO_LARGE (413)', () => {
    const max = Buffer.alloc(3000, 7);
    expect(decodeBase64Media(max.toString('base64'), 3000)).toEqual(max);
    for (const size of [3001, 3002, 3003]) {
      const err = thrown(() => decodeBase64Media(Buffer.alloc(size).toString('base64'), 3000));
      expect(err.code, String(size)).toBe('MEDIA_TOO_LARGE');
      expect(err.status).toBe(413);
    }
  });

  it('judges the size from the length before looking at the text: an oversized non-base64 string is too large, not invalid', () => {
    expect(thrown(() => decodeBase64Media('*'.repeat(4000), 100)).code).toBe('MEDIA_TOO_LARGE');
  });
});

describe('safeFilename', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\cv.docx', 'cv.docx'],
    ['a\u0000b\u001fc\u007f.txt', 'abc.txt'],
    ['  spaced name.txt  ', 'spaced name.txt'],
    ['Überweisung 2026 – März.pdf', 'Überweisung 2026 – März.pdf'],
    ['', null],
    ['dir/', null],
    ['..', null],
    ['.', null],
  ])('%j -> %j', (raw, name) => {
    expect(safeFilename(raw)).toBe(name);
  });

  it('cuts a name to 255 characters', () => {
    expect(safeFilename('x'.repeat(300))).toHaveLength(255);
  });
});

describe('filenameOf', () => {
  const url = new URL('https://files.example/path/to/Invoice%2042.pdf?download=1');

  it.each([
    ['attachment; filename="report.pdf"', 'report.pdf'],
    ['attachment; filename=report.pdf', 'report.pdf'],
    ['attachment; filename="quoted \\"name\\".pdf"', 'quoted "name".pdf'],
    ["attachment; filename*=UTF-8''%C3%9Cbersicht.pdf", 'Übersicht.pdf'],
    ["attachment; filename=\"fallback.pdf\"; filename*=UTF-8''preferred.pdf", 'preferred.pdf'],
    ['attachment; filename="../../secret.txt"', 'secret.txt'],
    ['inline', 'Invoice 42.pdf'],
  ])('Content-Disposition %j -> %j', (header, name) => {
    expect(filenameOf(header, url)).toBe(name);
  });

  it('falls back to the last segment of the URL path, decoded', () => {
    expect(filenameOf(undefined, url)).toBe('Invoice 42.pdf');
    expect(filenameOf(undefined, new URL('https://files.example/broken%E0%A4%A.pdf'))).toBe('broken%E0%A4%A.pdf');
  });

  it('is null when neither names a file', () => {
    expect(filenameOf(undefined, new URL('https://files.example/'))).toBeNull();
    expect(filenameOf(undefined, new URL('https://files.example/dir/'))).toBeNull();
  });
});

describe('the file name media is sent with', () => {
  it('keeps a given name, gives a nameless document file.<ext>, and leaves images nameless', async () => {
    const { sendFilename } = await import('../../../src/messages/media.js');
    expect(sendFilename('application/pdf', 'terms.pdf')).toBe('terms.pdf');
    expect(sendFilename('application/pdf', null)).toBe('file.pdf');
    expect(sendFilename('application/vnd.openxmlformats-officedocument.wordprocessingml.document', null)).toBe('file.docx');
    expect(sendFilename('image/png', null)).toBeNull();
  });
});
