/**
 * Injected into browser bundles (esbuild's `inject`): the wire and admission code use Node's
 * Buffer API, which the `buffer` package provides with the same methods in a page.
 */
import { Buffer } from 'buffer';

export { Buffer };
