import type { AuditDraft } from '@palisade/audit';
import type { AuthorizationDetail } from '@palisade/core';
import { type AuditSink, InsufficientAuthorization, type TokenExchanger, type VerifiedToken } from '@palisade/resource-server';
import { ApprovalRefused, type Approvals } from './approval.js';
import { callDownstream, type Downstream, type ToolResult, toolError } from './downstream.js';
import { type Arguments, MissingArgument } from './template.js';
import type { GatewayTool } from './tools.js';

export interface CallContext {
  readonly resource: string;
  readonly exchanger: TokenExchanger;
  readonly approvals: Approvals;
  readonly audit: AuditSink | undefined;
}

/** The gateway's decision on one tools/call, for the audit trail (never a token). */
function decision(
  ctx: CallContext,
  token: VerifiedToken,
  tool: string,
  outcome: { allowed: boolean; reason?: string; data?: Record<string, unknown>; required?: readonly AuthorizationDetail[] },
): AuditDraft {
  const { traceId } = token;
  return {
    event: outcome.allowed ? 'tool.call_allowed' : 'tool.call_denied',
    outcome: outcome.allowed ? 'success' : 'failure',
    ...(outcome.reason ? { reason: outcome.reason } : {}),
    ...(traceId ? { trace_id: traceId } : {}),
    sub: token.sub,
    client: token.clientId,
    jti: token.jti,
    ...(token.claims.act ? { act: token.claims.act } : {}),
    authorization_details: outcome.required ?? token.authorizationDetails,
    data: { tool: ctx.resource, operation: `tools/call ${tool}`, ...outcome.data },
  };
}

/**
 * Coverage first (RFC 9396; SECURITY M7): the call's required details, filled
 * in from its arguments, must each be covered by one of the token's details.
 * Thrown as 403 insufficient_scope naming them, and audited with the reason.
 */
export function authorizeCall(ctx: CallContext, token: VerifiedToken, tool: GatewayTool, args: Arguments): void {
  let missing: AuthorizationDetail[];
  try {
    missing = tool.missing(token, args);
  } catch (error) {
    // Arguments the tool's schema refuses: the MCP layer answers with its own validation error.
    if (error instanceof MissingArgument) return;
    throw error;
  }
  if (missing.length === 0) return;
  ctx.audit?.send(
    decision(ctx, token, tool.name, { allowed: false, reason: 'insufficient_scope', required: missing, data: { status: 403 } }),
  );
  throw new InsufficientAuthorization(`the token does not authorize ${tool.name} with these arguments`, { details: missing });
}

/**
 * One authorized tools/call: a person's approval when the call needs one
 * (CIBA), then the downstream call with an exchanged token. Every ending is
 * audited; a denial, a timeout or a refusal downstream is a tool error
 * (`isError`), so the agent can read what happened.
 */
export async function runCall(
  ctx: CallContext,
  token: VerifiedToken,
  tool: GatewayTool,
  args: Arguments,
  progress: { onProgress: (message: string) => Promise<void>; signal: AbortSignal },
): Promise<ToolResult> {
  // Arguments the templates cannot use (missing, or a dot segment in a URL) end the call here: never a check skipped.
  try {
    tool.required(args);
    tool.url(args);
  } catch (error) {
    if (!(error instanceof MissingArgument)) throw error;
    ctx.audit?.send(decision(ctx, token, tool.name, { allowed: false, reason: 'invalid_arguments' }));
    return toolError(`${tool.name} did not run: ${error.message}`);
  }
  authorizeCall(ctx, token, tool, args);
  let subject = token;
  const approvalReason = tool.approvalReason(token, args);
  if (approvalReason) {
    try {
      subject = await ctx.approvals.approve({ token, tool, args, ...progress });
    } catch (error) {
      if (!(error instanceof ApprovalRefused)) throw error;
      ctx.audit?.send(
        decision(ctx, token, tool.name, { allowed: false, reason: `approval_${error.outcome}`, data: { approval: approvalReason } }),
      );
      return toolError(`${tool.name} did not run: ${error.message}`);
    }
  }
  // A call cancelled while a person was deciding must not run once they approve (a payment, say).
  if (progress.signal.aborted) {
    ctx.audit?.send(decision(ctx, token, tool.name, { allowed: false, reason: 'cancelled' }));
    return toolError(`${tool.name} did not run: the call was cancelled`);
  }
  let outcome: Downstream;
  try {
    outcome = await callDownstream(tool, args, subject, ctx.exchanger);
  } catch (error) {
    // The tool could not be reached or answered in time: the agent reads it, the trail records it.
    const code = error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network';
    outcome = { result: toolError(`${tool.name}: the tool could not be reached (${code})`), status: undefined, error: code };
  }
  // Who asked (the caller's token); a person's approval is recorded as evidence: why, and the approval token's id.
  ctx.audit?.send(
    decision(ctx, token, tool.name, {
      allowed: true,
      data: {
        downstream: tool.config.call.audience,
        ...(outcome.status === undefined ? {} : { status: outcome.status }),
        ...(outcome.error ? { error: outcome.error } : {}),
        ...(approvalReason ? { approval: approvalReason, approval_jti: subject.jti } : {}),
      },
    }),
  );
  return outcome.result;
}
