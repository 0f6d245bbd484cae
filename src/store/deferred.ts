/** A promise with its settle functions, for the callers waiting on one log batch. */
export interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const noop = (): void => {};

export function deferred(): Deferred {
  let resolve = noop;
  let reject: (error: Error) => void = noop;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch may fail with nobody waiting on it; its log reports the failure its own way.
  promise.catch(noop);
  return { promise, resolve, reject };
}
