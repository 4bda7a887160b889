import { createHash } from 'node:crypto';
import { canonicalJson } from '@palisade/audit';
import { type AuthorizationDetail, covers, withinGrant } from '@palisade/core';
import type { VerifiedToken } from '@palisade/resource-server';
import type { ToolConfig } from './config.js';
import { type Arguments, placeholders, render, renderUrl } from './template.js';

/** Decimal strings as exact integers at a common scale: no floating point near money. */
function decimal(text: string): { units: bigint; scale: number } {
  const [whole = '0', fraction = ''] = text.split('.');
  return { units: BigInt(whole + fraction), scale: fraction.length };
}

function greaterThan(value: string, limit: string): boolean {
  const a = decimal(value);
  const b = decimal(limit);
  const scale = Math.max(a.scale, b.scale);
  return a.units * 10n ** BigInt(scale - a.scale) > b.units * 10n ** BigInt(scale - b.scale);
}

const DECIMAL = /^[0-9]{1,15}(\.[0-9]{1,6})?$/;

/** A configured tool: what a call needs (details, approval) and where it goes, from its arguments. */
export class GatewayTool {
  /** Per required detail: its argument-independent part, and the fields the arguments fill in (for listing). */
  readonly #fixed: readonly { readonly detail: AuthorizationDetail; readonly dynamic: ReadonlySet<string> }[];

  constructor(readonly config: ToolConfig) {
    this.#fixed = config.requires.map((template) => {
      const dynamic = new Set(Object.keys(template).filter((key) => placeholders(template[key]).size > 0));
      const detail = Object.fromEntries(Object.entries(template).filter(([key]) => !dynamic.has(key))) as unknown as AuthorizationDetail;
      return { detail, dynamic };
    });
  }

  get name(): string {
    return this.config.name;
  }

  /** The authorization details this exact call needs (RFC 9396), filled in from its arguments. */
  required(args: Arguments): AuthorizationDetail[] {
    return this.config.requires.map((template) => render(template, args) as unknown as AuthorizationDetail);
  }

  /**
   * Whether the token could authorize some call of this tool: for each
   * required detail, a granted one covers its argument-independent fields
   * (what `tools/list` shows). The exact call is checked again when it comes.
   */
  possibleWith(token: VerifiedToken): boolean {
    return this.#fixed.every(({ detail, dynamic }) => {
      const granted = token.authorizationDetails.map(
        (held) => Object.fromEntries(Object.entries(held).filter(([key]) => !dynamic.has(key))) as unknown as AuthorizationDetail,
      );
      return covers(granted, detail);
    });
  }

  /** The required details that none of the token's details covers (empty: the call is authorized). */
  missing(token: VerifiedToken, args: Arguments): AuthorizationDetail[] {
    return this.required(args).filter((detail) => !covers(token.authorizationDetails, detail));
  }

  /**
   * Why a person must approve this call first, or undefined: a configured
   * condition holds (an amount above a limit), or the call carries content
   * the token's grant never approved word for word (an exact payment under a
   * broad "may make payments"): the IdP narrows an exchange only to what a
   * person approved (ADR 0006), so the gateway asks them.
   */
  approvalReason(token: VerifiedToken, args: Arguments): string | undefined {
    const rule = this.config.approval;
    if (!rule) return undefined;
    if (!rule.when) return 'always approved by a person';
    for (const condition of rule.when) {
      const value = args[condition.argument];
      if (typeof value === 'string' && DECIMAL.test(value) && greaterThan(value, condition.greater_than))
        return `${condition.argument} above ${condition.greater_than}`;
    }
    if (!withinGrant(token.authorizationDetails, this.required(args))) return 'the exact content was not approved before';
    return undefined;
  }

  bindingMessage(args: Arguments): string {
    // CIBA §7.1: short and printable; arguments are cut to keep the whole within the IdP's limit.
    const text = render(this.config.approval?.binding_message ?? this.name, args)
      .replace(/\s+/g, ' ')
      .trim();
    return [...text].slice(0, 128).join('');
  }

  url(args: Arguments): string {
    return renderUrl(this.config.call.url, args);
  }

  body(args: Arguments): unknown {
    return this.config.call.body === undefined ? undefined : render(this.config.call.body, args);
  }

  /** SHA-256 of the call's canonical JSON (RFC 8785-style): what an approval is bound to. */
  digest(args: Arguments): string {
    return createHash('sha256')
      .update(canonicalJson({ tool: this.name, arguments: args }))
      .digest('base64url');
  }
}
