import { Rng } from '@fednode/kernels';
import { linearAssignment } from './assignment.js';
import { MergeError } from './errors.js';

/** Sweep limit and seed of weight matching's coordinate ascent. */
export interface WeightMatchingOptions {
  /** Most sweeps over the layers (git re-basin's max_iter), default 100. */
  maxSweeps?: number;
  /** Seed of the per-sweep random layer order, default 0. */
  seed?: number;
}

export interface AscentResult {
  readonly perms: Int32Array[];
  readonly sweeps: number;
  readonly converged: boolean;
}

/** The improvement a group must show for the sweep to count as progress (git re-basin). */
const PROGRESS_EPS = 1e-12;

/**
 * Git re-basin's coordinate ascent over permutation groups of the given sizes: starting from
 * identities, each sweep visits the groups in a seeded random order and sets group g's
 * permutation to the linear assignment maximising tr(P·S_g), where `similarity(g, perms)`
 * gives S_g (n×n, row-major) with the other groups' current permutations. Stops after a sweep
 * where no group improved by more than 1e-12, or after `maxSweeps`.
 *
 * @throws MergeError MERGE_ARGUMENT for a bad maxSweeps or seed.
 */
export function coordinateAscent(
  sizes: readonly number[],
  opts: WeightMatchingOptions,
  similarity: (g: number, perms: readonly Int32Array[]) => Float64Array,
  onGroup?: (sweep: number, g: number, done: number) => void,
): AscentResult {
  const maxSweeps = opts.maxSweeps ?? 100;
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(maxSweeps) || maxSweeps < 1) throw new MergeError('MERGE_ARGUMENT', `is ${maxSweeps}, expected an integer >= 1`, 'maxSweeps');
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new MergeError('MERGE_ARGUMENT', `is ${seed}, expected an integer in [0, 2^32 - 1]`, 'seed');
  const perms: Int32Array[] = sizes.map((n) => Int32Array.from({ length: n }, (_, i) => i));
  const rng = new Rng(seed);
  const order = sizes.map((_, g) => g);
  let sweeps = 0;
  let converged = sizes.length === 0;
  while (!converged && sweeps < maxSweeps) {
    sweeps++;
    rng.shuffle(order);
    let progress = false;
    order.forEach((g, done) => {
      const n = sizes[g];
      const s = similarity(g, perms);
      const old = perms[g];
      let oldValue = 0;
      for (let i = 0; i < n; i++) oldValue += s[i * n + old[i]];
      const best = linearAssignment(s, n, { maximize: true });
      if (best.value > oldValue + PROGRESS_EPS) progress = true;
      perms[g] = best.cols;
      onGroup?.(sweeps, g, done + 1);
    });
    converged = !progress;
  }
  return { perms, sweeps, converged };
}

/**
 * s[i, j] += ⟨x's row i, y's row j⟩ for n rows of `width` float64 values each: the similarity
 * matrix weight matching solves, one block of rows at a time.
 */
export function addRowProducts(x: Float64Array, y: Float64Array, n: number, width: number, s: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const xi = i * width;
    for (let j = 0; j < n; j++) {
      const yj = j * width;
      let acc = 0;
      for (let k = 0; k < width; k++) acc += x[xi + k] * y[yj + k];
      s[i * n + j] += acc;
    }
  }
}
