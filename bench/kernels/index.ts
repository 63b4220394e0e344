import type { Bench } from '../harness.js';
import { quantBenches } from './quant.js';
import { dctBenches } from './dct.js';
import { reduceBenches } from './reduce.js';

export const kernelBenches: Bench[] = [...quantBenches, ...dctBenches, ...reduceBenches];
