import {
  type AuthorizationDetail,
  covers,
  coversAll,
  InvalidAuthorizationDetails,
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  UnauthorizedClient,
  withinGrant,
} from '@palisade/core';
import { checkScopeAudience, scopesForAudience } from '../checks/scope.js';
import type { ExchangeRuleConfig, TokenTypeName } from '../config/schema.js';
import type { IdpContext } from '../context.js';
import { parseAuthorizationDetails } from '../rar/limits.js';
import type { Client } from '../realm.js';
import type { Subject } from './subject.js';

/**
 * The exchange rules that let this client exchange this subject token (deny
 * by default). SECURITY X12: a client with no rule at all is
 * `unauthorized_client`. SECURITY X1 / X8 (ADR 0006): the subject token must
 * be meant for one of the client's own resources, and its `may_act`, when
 * present, must name the client.
 */
export function candidateRules(ctx: IdpContext, client: Client, subject: Subject, subjectIsIdToken: boolean): ExchangeRuleConfig[] {
  const rules = ctx.realm.exchangeRules.filter((rule) => rule.client === client.id);
  if (rules.length === 0) throw UnauthorizedClient('the client may not exchange tokens');
  if (subject.mayAct !== undefined && subject.mayAct !== client.id) {
    throw InvalidRequest('the subject_token may not be exchanged by this client (may_act)');
  }
  if (subjectIsIdToken) {
    // ID tokens are subjects only where a rule opts in (their audience is the client, not a resource).
    const opted = rules.filter((rule) => rule.subject_token_types.includes('id_token'));
    if (opted.length === 0) throw InvalidRequest('no exchange rule of this client accepts ID tokens');
    return opted;
  }
  const matching = rules.filter((r) => r.from.some((aud) => subject.audiences.includes(aud)));
  if (matching.length === 0) throw InvalidRequest("the subject_token was not issued for this client's resource");
  return matching;
}

/**
 * The audiences of the new token, from `audience` and `resource` (RFC 8693
 * §2.1, RFC 8707), and the rule that allows all of them (SECURITY X4): each a
 * configured resource server in the rule's `to`; one unless the rule allows
 * several.
 */
export function selectTargets(
  ctx: IdpContext,
  candidates: readonly ExchangeRuleConfig[],
  body: URLSearchParams,
  requestedType: TokenTypeName,
): { rule: ExchangeRuleConfig; targets: string[] } {
  const resources = body.getAll('resource').filter((v) => v !== '');
  for (const resource of resources) {
    if (!URL.canParse(resource) || resource.includes('#')) throw InvalidTarget('resource must be an absolute URI without a fragment');
  }
  const targets = [...new Set([...body.getAll('audience').filter((v) => v !== ''), ...resources])];
  if (targets.length === 0) throw InvalidRequest('audience or resource is required');
  const reaching = candidates.filter((r) => targets.every((t) => r.to.includes(t) && ctx.realm.resourceServers.has(t)));
  if (reaching.length === 0) throw InvalidTarget('the client may not obtain tokens for this audience');
  // Several rules may reach a target (e.g. JWTs for some tools, SAML for a legacy one): the type decides (SECURITY X10).
  const rule = reaching.find((r) => r.token_types.includes(requestedType));
  if (!rule) throw InvalidRequest('requested_token_type is not allowed for this exchange');
  if (targets.length > 1 && !rule.multiple_audiences) throw InvalidTarget('one target audience per exchange');
  return { rule, targets };
}

/**
 * Scope narrowing (RFC 8693 §2.1, SECURITY X5): a requested scope must be in
 * the subject token and allowed to flow by the rule; without a request, the
 * subject's scopes that may flow and mean something at the target.
 */
export function narrowedScope(
  ctx: IdpContext,
  rule: ExchangeRuleConfig,
  subject: Subject,
  requested: readonly string[],
  targets: readonly string[],
): string[] {
  if (requested.length === 0) {
    const flowing = subject.scope.filter((s) => rule.scopes.includes(s));
    return targets.reduce((kept, target) => scopesForAudience(ctx.realm, kept, target), flowing);
  }
  if (requested.some((s) => !subject.scope.includes(s))) throw InvalidScope('the requested scope exceeds the subject token');
  if (requested.some((s) => !rule.scopes.includes(s))) throw InvalidScope('the requested scope may not flow to this audience');
  // Every audience of the new token must be one the scope means something at.
  for (const target of targets) checkScopeAudience(ctx.realm, requested, target);
  return [...requested];
}

/** A detail concerns a target when it names no locations, or one at or under the target's URL. */
function concerns(detail: AuthorizationDetail, targets: readonly string[]): boolean {
  if (!detail.locations) return true;
  return detail.locations.some((location) =>
    targets.some((target) => location === target || location.startsWith(`${target.replace(/\/$/, '')}/`)),
  );
}

/**
 * Authorization-detail narrowing (RFC 9396 §6, SECURITY X5): requested
 * details must be covered by the subject token's and by the rule's ceilings;
 * without a request, the subject's details within the ceilings and of types
 * the client may request flow, others are dropped. A rule without ceilings
 * lets no detail through.
 */
export function narrowedDetails(
  ctx: IdpContext,
  client: Client,
  rule: ExchangeRuleConfig,
  subject: Subject,
  raw: string | undefined,
  targets: readonly string[],
): readonly AuthorizationDetail[] {
  const ceilings = rule.authorization_details as unknown as AuthorizationDetail[];
  // Implicit flow obeys the same limits as a request: a type the client may not request does not reach it either,
  // and only details about the target itself pass ("narrowed to what Tool B needs").
  if (raw === undefined) {
    return subject.authorizationDetails.filter(
      (detail) => client.authorizationDetailsTypes.has(detail.type) && covers(ceilings, detail) && concerns(detail, targets),
    );
  }
  const requested = ctx.realm.detailTypes.validate(parseAuthorizationDetails(raw) ?? [], client);
  if (!withinGrant(subject.authorizationDetails, requested))
    throw InvalidAuthorizationDetails('authorization_details exceed the subject token');
  if (!coversAll(ceilings, requested)) throw InvalidAuthorizationDetails('authorization_details may not flow to this audience');
  return requested;
}
