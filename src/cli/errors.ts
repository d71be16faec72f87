/** A mistake in how rrkit was called (exit status 2), as opposed to a failure while running (1). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Checks an optional option's value with `check`, reporting its complaint as a UsageError about `flag`. */
export function checkOption<T>(flag: string, value: T | undefined, check: (value: T) => unknown): T | undefined {
  if (value === undefined) return undefined;
  try {
    check(value);
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`);
  }
  return value;
}
