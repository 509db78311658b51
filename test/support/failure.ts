/**
 * The error a call fails with, for tests that assert a failure. No failure
 * fails the test; an error of another type is thrown on as it came, so a
 * bug is never taken for the refusal expected.
 */
type ErrorClass<E> = abstract new (...args: never[]) => E;

export function thrownBy<E>(type: ErrorClass<E>, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}, but nothing was thrown`);
}

export async function rejectionOf<E>(type: ErrorClass<E>, p: Promise<unknown>): Promise<E> {
  try {
    await p;
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}, but it succeeded`);
}
