import { InvalidRequest, InvalidTarget, ServerError } from '@palisade/core';
import { TOKEN_EXCHANGE, TOKEN_TYPES, type TokenTypeName } from '../config/schema.js';
import { candidateRules, narrowedDetails, narrowedScope, selectTargets } from '../exchange/policy.js';
import { readActorToken, readSubject, type Subject } from '../exchange/subject.js';
import { splitScope } from '../http/params.js';
import { detailsClaim } from '../rar/limits.js';
import type { Client } from '../realm.js';
import { type Actor, actorsOf, nestActor } from '../tokens/act.js';
import type { TokenResponse } from '../tokens/model.js';
import { releasedAttributes, samlAssertion } from '../tokens/saml.js';
import type { GrantHandler } from './grant.js';

const parameters = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'scope',
  'authorization_details',
] as const;

const TYPE_NAMES: ReadonlyMap<string, TokenTypeName> = new Map(
  Object.entries(TOKEN_TYPES).map(([name, urn]) => [urn, name as TokenTypeName]),
);

/**
 * The chain of the new token (RFC 8693 §4.1): the exchanging client becomes
 * the current actor in front of the subject token's chain. A user's token
 * obtained by an agent starts the chain with that agent, so the record reads
 * user → agent → gateway → tool. SECURITY X9: an actor appearing twice
 * (a loop) or a chain deeper than the rule allows is refused.
 */
function delegationChain(client: Client, subject: Subject, maxDepth: number): Actor {
  // The agent a user's token was issued to is the first actor, unless that is the exchanging client itself
  // (its own ID token): then the client starts the chain, and appearing there is no loop.
  const agent = subject.clientId !== subject.sub && subject.clientId !== client.id ? { sub: subject.clientId } : undefined;
  const previous = subject.act ?? agent;
  if (actorsOf(previous).includes(client.id)) throw InvalidRequest('the client already acts in this delegation chain');
  const chain = nestActor(client.id, previous);
  if (actorsOf(chain).length > maxDepth) throw InvalidRequest('the delegation chain would exceed the allowed depth');
  return chain;
}

/**
 * OAuth 2.0 Token Exchange (RFC 8693): a service holding a token meant for it
 * gets a new token for the next service, for the same user, narrowed in
 * audience, scope, details and lifetime, with the chain of actors recorded.
 * Deny by default: only what an exchange rule of the client allows.
 */
export const tokenExchangeGrant: GrantHandler<(typeof parameters)[number]> = {
  grantType: TOKEN_EXCHANGE,
  parameters,
  async handle(ctx, client, params, body, proof) {
    if (params.subject_token === undefined || params.subject_token_type === undefined) {
      throw InvalidRequest('subject_token and subject_token_type are required');
    }
    // RFC 8693 §2.1 (SECURITY X3): actor_token and actor_token_type come together or not at all.
    if ((params.actor_token === undefined) !== (params.actor_token_type === undefined)) {
      throw InvalidRequest('actor_token and actor_token_type must be sent together');
    }
    const requestedType = params.requested_token_type === undefined ? 'access_token' : TYPE_NAMES.get(params.requested_token_type);
    // SECURITY X10.
    if (requestedType === undefined) throw InvalidRequest('requested_token_type is not supported');

    const subject = await readSubject(ctx, client, params.subject_token, params.subject_token_type);
    const candidates = candidateRules(ctx, client, subject, params.subject_token_type === TOKEN_TYPES.id_token);
    const { rule, targets } = selectTargets(ctx, candidates, body, requestedType);
    const target = targets[0] as string;
    if (targets.length > 1 && requestedType !== 'access_token' && requestedType !== 'jwt') {
      throw InvalidTarget('an assertion or ID token is for one audience');
    }
    if (params.actor_token !== undefined && params.actor_token_type !== undefined) {
      await readActorToken(ctx, client, params.actor_token, params.actor_token_type, proof?.jkt);
    }
    // RFC 8693 §1.1: an actor_token asks for delegation; without one the client asks to impersonate (SECURITY X6).
    const delegation = params.actor_token !== undefined;
    if (!delegation && rule.mode !== 'impersonation') {
      throw InvalidRequest("impersonation is not allowed: present the client's own token as actor_token");
    }
    // Impersonating a token that is already delegated would erase the chain, and with it the loop and depth limits.
    if (!delegation && subject.act) throw InvalidRequest('a delegated token cannot be exchanged by impersonation');
    const act = delegation ? delegationChain(client, subject, rule.max_chain_depth) : undefined;

    const scope = narrowedScope(ctx, rule, subject, splitScope(params.scope), targets);
    const authorizationDetails = narrowedDetails(ctx, client, rule, subject, params.authorization_details, targets);
    const issuedType = TOKEN_TYPES[requestedType];

    if (requestedType === 'saml2' || requestedType === 'id_token') {
      const user = ctx.realm.usersBySub.get(subject.sub);
      if (!user) throw InvalidRequest("only a person's token can be turned into an assertion or ID token");
      const attributes = releasedAttributes(subject.scope, rule.attributes);
      // Access tokens are recorded where they are minted; assertions and ID tokens here.
      ctx.audit.record(
        {
          event: 'token.exchanged',
          outcome: 'success',
          sub: subject.sub,
          client: client.id,
          ...(subject.jti ? { derived_from: subject.jti } : {}),
          ...(act ? { act } : {}),
          data: { audience: target, token_type: issuedType, attributes: [...attributes] },
        },
        ctx.request,
      );
      if (requestedType === 'id_token') {
        const { token, expiresIn } = await ctx.tokens.exchangedIdToken({
          user,
          audience: target,
          notAfter: subject.exp,
          act,
          releaseName: attributes.has('name'),
        });
        return { access_token: token, issued_token_type: issuedType, token_type: 'N_A', expires_in: expiresIn };
      }
      const signingKey = ctx.keystore.samlSigningKey;
      if (!signingKey) throw ServerError('no RS256 key with a certificate to sign SAML assertions');
      const now = ctx.clock.now();
      const notOnOrAfter = Math.min(now + ctx.tokens.lifetimes.accessToken, subject.exp);
      const assertion = samlAssertion({
        issuer: ctx.realm.issuer,
        audience: target,
        user,
        now,
        notOnOrAfter,
        authTime: subject.authTime,
        acr: subject.acr,
        act,
        attributes,
        signingKey,
      });
      // RFC 8693 §2.2.1: a SAML assertion travels base64url-encoded without padding; token_type N_A.
      return {
        access_token: Buffer.from(assertion, 'utf8').toString('base64url'),
        issued_token_type: issuedType,
        token_type: 'N_A',
        expires_in: notOnOrAfter - now,
      };
    }

    const access = await ctx.tokens.accessToken({
      served: ctx.request,
      client,
      sub: subject.sub,
      audience: targets.length === 1 ? target : targets,
      scope,
      // Hangs off the subject token's grant: logout, withdrawal or reuse revocation kills the whole chain.
      grantId: subject.grantId,
      ...(subject.authTime !== undefined && subject.acr !== undefined
        ? { authentication: { authTime: subject.authTime, acr: subject.acr, amr: subject.amr ?? [] } }
        : {}),
      authorizationDetails,
      act,
      // Never outlive the subject token, nor survive its revocation.
      notAfter: subject.exp,
      derivedFrom: subject.jti,
      // RFC 9449: sender-constraint survives the hop; the new token is bound to the exchanging service's own key.
      jkt: proof?.jkt,
    });
    const response: TokenResponse = {
      access_token: access.token,
      issued_token_type: issuedType,
      token_type: proof ? 'DPoP' : 'Bearer',
      expires_in: access.expiresIn,
      ...(scope.length > 0 ? { scope: scope.join(' ') } : {}),
      ...detailsClaim(authorizationDetails),
    };
    return response;
  },
};
