import { type AuthorizationDetail, InvalidAuthorizationDetails } from '@palisade/core';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { AuthorizationDetailTypeConfig } from '../config/schema.js';
import type { Client } from '../realm.js';

/** Safe shapes for the RFC 9396 §2.2 common fields; a type's own schema refines them. */
const COMMON_FIELDS: Readonly<Record<string, Record<string, unknown>>> = {
  locations: { type: 'array', minItems: 1, maxItems: 16, uniqueItems: true, items: { type: 'string', format: 'uri', maxLength: 2048 } },
  actions: { type: 'array', minItems: 1, maxItems: 32, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 128 } },
  datatypes: { type: 'array', minItems: 1, maxItems: 32, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 128 } },
  identifier: { type: 'string', minLength: 1, maxLength: 512 },
  privileges: { type: 'array', minItems: 1, maxItems: 32, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 128 } },
};

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: false });
  // The one format we need: absolute URIs, written as WHATWG URL reads them. Policy patterns and
  // covers() compare text exactly, so `finance/../engineering` or `finance/%2e%2e/x` would match a
  // `finance/*` rule while every URL parser resolves it elsewhere (SECURITY D4). Only an origin may
  // omit its trailing slash (`http://127.0.0.1:9412`).
  ajv.addFormat('uri', (value: string) => URL.canParse(value) && [value, `${value}/`].includes(new URL(value).href));
  return ajv;
}

/** The whole schema of one type: `type` fixed, its declared fields, nothing else (RFC 9396 §5 "unknown field"). */
function schemaOf(name: string, type: AuthorizationDetailTypeConfig): Record<string, unknown> {
  const properties: Record<string, unknown> = { type: { const: name } };
  for (const [field, schema] of Object.entries(type.fields)) properties[field] = { ...COMMON_FIELDS[field], ...schema };
  return { type: 'object', required: ['type', ...type.required], properties, additionalProperties: false };
}

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9_.]*)(?:\|([^}]*))?\}/g;

/** Start-up checks of the declared types, each naming the exact key (used by the config cross-check). */
export function detailTypeProblems(types: Readonly<Record<string, AuthorizationDetailTypeConfig>>): string[] {
  const problems: string[] = [];
  const ajv = newAjv();
  for (const [name, type] of Object.entries(types)) {
    const at = `authorization_details_types.${name}`;
    try {
      ajv.compile(schemaOf(name, type));
    } catch (error) {
      problems.push(`${at}.fields: not a valid JSON Schema (${error instanceof Error ? error.message : 'unknown error'})`);
    }
    type.required.forEach((field, i) => {
      if (!(field in type.fields)) problems.push(`${at}.required[${i}] names a field that is not declared`);
    });
    for (const match of type.template.matchAll(PLACEHOLDER)) {
      const root = (match[1] ?? '').split('.')[0] ?? '';
      if (!(root in type.fields)) problems.push(`${at}.template uses {${match[1]}}, which is not a declared field`);
    }
  }
  return problems;
}

export interface DetailDescription {
  /** The type's template filled in: what the person approves, in words. */
  readonly sentence: string;
  /** The same words uncapitalized, to follow "<client> asks to" on the authentication device. */
  readonly phrase: string;
  /** Every field and its exact value, so nothing is hidden behind the wording. */
  readonly fields: readonly { readonly name: string; readonly value: string }[];
}

/** Every leaf of a detail as `path: value`; arrays of objects get indexes, so nothing renders as "[object Object]". */
function flatten(value: unknown, prefix: string, out: { name: string; value: string }[]): void {
  if (Array.isArray(value) && value.every((item) => item === null || typeof item !== 'object')) {
    out.push({ name: prefix, value: value.map(String).join(', ') });
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) flatten(item, `${prefix}[${i}]`, out);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(v, `${prefix}.${k}`, out);
  } else {
    out.push({ name: prefix, value: String(value) });
  }
}

/** A value in words: its label when the type declares one (own properties only), else the value; objects as JSON. */
function word(labels: Readonly<Record<string, string>>, value: unknown): string {
  const text = value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value);
  return Object.hasOwn(labels, text) ? (labels[text] as string) : text;
}

function joinWords(values: readonly string[]): string {
  if (values.length <= 1) return values[0] ?? '';
  return `${values.slice(0, -1).join(', ')} and ${values.at(-1)}`;
}

/**
 * The authorization detail types this IdP understands (RFC 9396 §2), from
 * the configuration. Each type's JSON Schema is compiled once at start-up.
 */
export class DetailTypes {
  readonly #types: Readonly<Record<string, AuthorizationDetailTypeConfig>>;
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(types: Readonly<Record<string, AuthorizationDetailTypeConfig>>) {
    this.#types = types;
    const ajv = newAjv();
    for (const [name, type] of Object.entries(types)) this.#validators.set(name, ajv.compile(schemaOf(name, type)));
  }

  get supported(): string[] {
    return Object.keys(this.#types);
  }

  /**
   * Checks parsed details against their types and the client's
   * `authorization_details_types` (RFC 9396 §5, §10). Error descriptions name
   * the entry, never echo its content.
   */
  validate(entries: readonly unknown[], client: Client): AuthorizationDetail[] {
    return entries.map((entry, i) => {
      const type = (entry as { type: string }).type;
      const validator = Object.hasOwn(this.#types, type) ? this.#validators.get(type) : undefined;
      if (!validator) throw InvalidAuthorizationDetails(`authorization_details[${i}] has an unknown type`);
      if (!client.authorizationDetailsTypes.has(type)) {
        throw InvalidAuthorizationDetails(`authorization_details[${i}]: the client may not request this type`);
      }
      if (!validator(entry)) {
        const where = validator.errors?.[0]?.instancePath.split('/')[1];
        const known = where !== undefined && Object.hasOwn(this.#types[type]?.fields ?? {}, where);
        throw InvalidAuthorizationDetails(`authorization_details[${i}] is not a valid ${type} detail${known ? ` (field ${where})` : ''}`);
      }
      return entry as AuthorizationDetail;
    });
  }

  /** The detail in words, through its type's template and labels, plus every field verbatim. */
  describe(detail: AuthorizationDetail): DetailDescription {
    const type = this.#types[detail.type];
    const fields: { name: string; value: string }[] = [];
    for (const [name, value] of Object.entries(detail)) if (name !== 'type') flatten(value, name, fields);
    if (!type) return { sentence: detail.type, phrase: detail.type, fields };
    const sentence = type.template.replace(PLACEHOLDER, (_match, path: string, fallback: string | undefined) => {
      const [root = '', ...rest] = path.split('.');
      let value: unknown = detail[root];
      for (const key of rest) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
      if (value === undefined) return fallback ?? '';
      const labels = Object.hasOwn(type.labels, path) ? (type.labels[path] ?? {}) : {};
      return joinWords((Array.isArray(value) ? value : [value]).map((v) => word(labels, v)));
    });
    return { sentence: sentence.charAt(0).toUpperCase() + sentence.slice(1), phrase: sentence, fields };
  }
}
