/**
 * libp2p v3 calls `Promise.withResolvers`, which Node 20 lacks: without it every inbound
 * connection fails its upgrade with a misleading encryption error. Import this module before
 * anything that creates a libp2p host (host.ts does).
 */
interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

type WithResolvers = <T>() => Resolvers<T>;

const P = Promise as unknown as { withResolvers?: WithResolvers };

if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>(): Resolvers<T> {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};
