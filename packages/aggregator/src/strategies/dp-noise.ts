/**
 * DP-FedAvg's Gaussian noise. Its privacy holds only while nobody can predict the noise, so it
 * comes from the platform's cryptographic source (Web Crypto's getRandomValues, in Node and in
 * browsers alike). A seeded stream remains for tests, under a name that says so.
 */
import { Rng } from '@fednode/kernels';

/** getRandomValues fills at most 64 KiB a call. */
const WORDS_PER_CALL = 16384;
const TWO_32 = 4294967296;

/** `out` filled with N(0, sigma²) from the cryptographic source (Box-Muller over 32-bit words). */
export function cryptoNormal(out: Float32Array, sigma: number): Float32Array {
  const words = new Uint32Array(Math.min(WORDS_PER_CALL, 2 * Math.ceil(out.length / 2)));
  let w = words.length;
  const next = (): number => {
    if (w === words.length) {
      globalThis.crypto.getRandomValues(words);
      w = 0;
    }
    return words[w++];
  };
  for (let i = 0; i < out.length; i += 2) {
    // (0, 1]: the log never sees 0.
    const u1 = (next() + 1) / TWO_32;
    const u2 = next() / TWO_32;
    const r = sigma * Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** The round's noise: cryptographic, or (tests only) from `testSeed`. */
export function dpNoise(length: number, sigma: number, round: number, testSeed: number | undefined): Float32Array {
  const out = new Float32Array(length);
  return testSeed === undefined ? cryptoNormal(out, sigma) : Rng.derive(testSeed, round).fillNormal(out, 0, sigma);
}
