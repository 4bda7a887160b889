import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { crossCheck } from './cross-check.js';
import { configSchema, type ParsedConfig } from './schema.js';

/** A configuration problem, named by the exact path of the bad key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: invalid configuration\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** `a.b[2].c` from a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of the document, so
 * secrets stay out of the file. An unset variable without a default is an error
 * naming the key that referenced it.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, problems: string[], path: PropertyKey[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (_match, name: string, fallback: string | undefined) => {
      const resolved = env[name] ?? fallback;
      if (resolved === undefined) problems.push(`${formatPath(path)} references \${${name}}, which is not set`);
      return resolved ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnv(item, env, problems, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateEnv(item, env, problems, [...path, key])]));
  }
  return value;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path) || '(top level)';
  if (issue.code === 'unrecognized_keys') return `${where}: unknown key(s) ${issue.keys.join(', ')}`;
  return `${where} ${issue.message}`;
}

/** Parses and checks a configuration document (already read from YAML). */
export function parseConfig(document: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): ParsedConfig {
  const problems: string[] = [];
  const interpolated = interpolateEnv(document ?? {}, env, problems);
  if (problems.length > 0) throw new ConfigError(source, problems);
  const result = configSchema.safeParse(interpolated);
  if (!result.success) throw new ConfigError(source, result.error.issues.map(describeIssue));
  const crossProblems = crossCheck(result.data);
  if (crossProblems.length > 0) throw new ConfigError(source, crossProblems);
  return result.data;
}

/** Reads, interpolates, validates and cross-checks a YAML configuration file. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ParsedConfig {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(file, [error instanceof Error ? error.message : String(error)]);
  }
  return parseConfig(document, file, env);
}
