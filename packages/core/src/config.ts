/** A configuration problem, named by the exact path of the bad key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: invalid configuration\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** `a.b[2].c` from a validation issue's path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}

/** One schema issue (zod's shape, structurally) as a line naming its key. */
export function describeIssue(issue: {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
}): string {
  const where = formatPath(issue.path) || '(top level)';
  if (issue.code === 'unrecognized_keys' && issue.keys) return `${where}: unknown key(s) ${issue.keys.join(', ')}`;
  return `${where} ${issue.message}`;
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
