/** A page cannot call gc(), and its engine paces its own collections: these do nothing (see garbage.ts). */
export type Collection = 'minor' | 'full';

export class GarbagePacer {
  constructor(
    readonly kind: Collection,
    readonly bytesBetween: number,
  ) {}
  add(_bytes: number): void {}
  collectIfDue(): void {}
}

export function collectGarbage(_kind: Collection): void {}
