import { readFileSync } from 'node:fs';
import { ConfigError, describeIssue, interpolateEnv } from '@palisade/core';
import { parse as parseYaml } from 'yaml';
import { crossCheck } from './cross-check.js';
import { configSchema, type ParsedConfig } from './schema.js';

export { ConfigError };

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
