import { CodedError } from './errors.js';

export class TimeoutError extends CodedError {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super('TIMEOUT', `${what} did not finish within ${timeoutMs} ms`);
  }
}

/**
 * Resolves or rejects like `work`, or rejects with TimeoutError after `timeoutMs`. The work is not
 * cancelled (a promise cannot be): callers use this where abandoning the result is safe, such as
 * an evaluate on a frozen page.
 */
export function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, timeoutMs)), timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
