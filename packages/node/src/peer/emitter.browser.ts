/**
 * Browser side of emitter.ts: the part of Node's EventEmitter a peer uses (on, once, off,
 * emit), with its rule that an 'error' nobody listens to is thrown rather than lost.
 */
type Events<T> = { [K in keyof T]: unknown[] };
type Listener = (...args: unknown[]) => void;

export class EventEmitter<T extends Events<T>> {
  private readonly listeners = new Map<keyof T, Listener[]>();

  on<K extends keyof T>(event: K, listener: (...args: T[K]) => void): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener as Listener]);
    return this;
  }

  once<K extends keyof T>(event: K, listener: (...args: T[K]) => void): this {
    const once = (...args: T[K]): void => {
      this.off(event, once);
      listener(...args);
    };
    return this.on(event, once);
  }

  off<K extends keyof T>(event: K, listener: (...args: T[K]) => void): this {
    this.listeners.set(event, (this.listeners.get(event) ?? []).filter((l) => l !== listener));
    return this;
  }

  emit<K extends keyof T>(event: K, ...args: T[K]): boolean {
    const ls = this.listeners.get(event) ?? [];
    if (ls.length === 0 && event === 'error') throw args[0] instanceof Error ? args[0] : new Error(String(args[0]));
    for (const l of ls) l(...args);
    return ls.length > 0;
  }
}
