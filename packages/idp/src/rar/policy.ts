import { type AuthorizationDetail, InvalidAuthorizationDetails } from '@palisade/core';
import type { AuthorizationDetailRuleConfig } from '../config/schema.js';
import type { Client, User } from '../realm.js';

/** A policy pattern: `*` matches any run of characters; everything else must match exactly (case-sensitive). */
function patternMatches(pattern: string, value: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === value;
  const first = parts[0] ?? '';
  const last = parts.at(-1) ?? '';
  if (!value.startsWith(first) || !value.endsWith(last) || value.length < first.length + last.length) return false;
  let position = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = value.indexOf(middle, position);
    if (found < 0 || found + middle.length > value.length - last.length) return false;
    position = found + middle.length;
  }
  return true;
}

function allMatch(patterns: readonly string[] | undefined, values: readonly string[] | undefined): boolean {
  if (patterns === undefined) return true;
  // The rule restricts this dimension; a detail that leaves it open asks for everything.
  if (values === undefined) return false;
  return values.every((value) => patterns.some((pattern) => patternMatches(pattern, value)));
}

function ruleApplies(rule: AuthorizationDetailRuleConfig, client: Client, user: User | undefined): boolean {
  if (rule.clients && !rule.clients.includes(client.id)) return false;
  if (rule.groups && !user?.groups.some((group) => rule.groups?.includes(group))) return false;
  return true;
}

/**
 * Authorization policy for details (RFC 9396 §6): for a type with rules, each
 * detail must fit inside one rule that applies to this client and user
 * (locations, actions, identifier all matching its patterns); a type without
 * rules is limited only by its schema and the client's allowed types.
 * `user` is undefined for client_credentials, so group rules never apply there.
 */
export class DetailPolicy {
  readonly #rules: readonly AuthorizationDetailRuleConfig[];

  constructor(rules: readonly AuthorizationDetailRuleConfig[]) {
    this.#rules = rules;
  }

  permits(detail: AuthorizationDetail, client: Client, user: User | undefined): boolean {
    const rules = this.#rules.filter((rule) => rule.type === detail.type);
    if (rules.length === 0) return true;
    return rules.some(
      (rule) =>
        ruleApplies(rule, client, user) &&
        allMatch(rule.locations, detail.locations) &&
        allMatch(rule.actions, detail.actions) &&
        allMatch(rule.identifiers, detail.identifier === undefined ? undefined : [detail.identifier]),
    );
  }

  /** Throws `invalid_authorization_details` naming the first detail outside policy. */
  check(details: readonly AuthorizationDetail[], client: Client, user: User | undefined): void {
    details.forEach((detail, i) => {
      if (!this.permits(detail, client, user)) {
        throw InvalidAuthorizationDetails(`authorization_details[${i}] is outside what policy allows`);
      }
    });
  }
}
