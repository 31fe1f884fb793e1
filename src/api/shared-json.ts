import type { Response } from 'express';

/**
 * A JSON answer rendered once for every request that shares it (a FreshRead's callers): the
 * same bytes and the same headers `res.json` would give each of them (`Content-Type:
 * application/json; charset=utf-8`, `Content-Length`, the app's ETag, a 304 to a matching
 * If-None-Match), but serialised and hashed once instead of once per request.
 */
export class SharedJson {
  private rendered: { body: Buffer; etag: string | undefined } | null = null;

  constructor(readonly value: unknown) {}

  send(res: Response): void {
    const app = res.app;
    // `json escape` is not set by createApp; should it ever be, res.json applies it as it does.
    if (app.get('json escape')) return void res.json(this.value);
    const rendered = (this.rendered ??= SharedJson.render(app.get('json replacer'), app.get('json spaces'), this.value, app.get('etag fn')));
    res.set('Content-Type', 'application/json; charset=utf-8');
    if (rendered.etag) res.set('ETag', rendered.etag);
    res.send(rendered.body);
  }

  private static render(
    replacer: ((key: string, value: unknown) => unknown) | undefined,
    spaces: string | number | undefined,
    value: unknown,
    etagFn: unknown,
  ): { body: Buffer; etag: string | undefined } {
    const body = Buffer.from(JSON.stringify(value, replacer, spaces) ?? '', 'utf8');
    const etag = typeof etagFn === 'function' ? ((etagFn as (body: Buffer, encoding?: string) => string | undefined)(body) ?? undefined) : undefined;
    return { body, etag };
  }
}
