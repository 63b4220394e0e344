import { parse as parseYaml } from 'yaml';
import type { ErrorObject } from 'ajv';

/**
 * ajv's errors as short lines naming the path, most specific first:
 * `clients.perRound: must be integer`, `strategy: unknown key "k"`. Used by the scenario and
 * run-file loaders so both speak alike.
 */
export function describeSchemaErrors(errors: readonly ErrorObject[], max = 8): string[] {
  const lines = new Set<string>();
  // oneOf failures repeat every branch's complaint; report the branch errors, not the summary.
  // A discriminator's complaint (an unknown tag) is said better by the tag's own enum.
  const specific = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'const' && e.keyword !== 'if' && e.keyword !== 'discriminator');
  for (const e of specific.length > 0 ? specific : errors) {
    const at = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(top level)';
    if (e.keyword === 'additionalProperties') lines.add(`${at}: unknown key "${(e.params as { additionalProperty: string }).additionalProperty}"`);
    else if (e.keyword === 'enum') lines.add(`${at}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`);
    else lines.add(`${at}: ${e.message}`);
  }
  return [...lines].slice(0, max);
}

/** YAML text as a value, or `fail`'s error naming the source and the parser's first line. */
export function parseYamlText(text: string, source: string, fail: (message: string) => Error): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw fail(`${source} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}
