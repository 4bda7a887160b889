import type { OAuthClientInformation, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { authorizeInBrowser, type LoginScript, ScriptedBrowser } from './browser.js';

/**
 * An MCP SDK `OAuthClientProvider` for the palisade-cli client (public,
 * PKCE, loopback redirect), for both SDK generations (the interface is the
 * same shape). The SDK does discovery, PKCE, `resource` and the code
 * exchange; this provider only holds what the SDK hands it, adds the RAR
 * `authorization_details` the agent needs to the authorization URL (the SDK
 * has no RAR), and plays the person at the IdP's pages with a scripted
 * browser instead of opening a real one.
 */
export class ScriptedLoginProvider {
  readonly redirectUrl = 'http://127.0.0.1:8790/callback';
  #tokens: OAuthTokens | undefined;
  #verifier = '';
  /** What the IdP sent back to the redirect URI (code, state, iss), for transport.finishAuth. */
  callback = new URLSearchParams();
  code = '';
  /** The authorization URL the SDK built (before the details were added), for assertions. */
  sdkUrl: URL | undefined;

  constructor(
    readonly issuer: string,
    readonly login: () => LoginScript,
    readonly authorizationDetails: readonly Record<string, unknown>[],
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Palisade CLI',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation(): OAuthClientInformation | undefined {
    return { client_id: 'palisade-cli' };
  }

  tokens(): OAuthTokens | undefined {
    return this.#tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens;
  }

  saveCodeVerifier(verifier: string): void {
    this.#verifier = verifier;
  }

  codeVerifier(): string {
    return this.#verifier;
  }

  /**
   * The SDK's authorization request, re-sent through PAR (RFC 9126) with the
   * agent's `authorization_details` added: the IdP takes details only from a
   * pushed request, and the SDK has neither PAR nor RAR.
   */
  async redirectToAuthorization(url: URL): Promise<void> {
    this.sdkUrl = new URL(url);
    const metadata = (await (await fetch(`${this.issuer}/.well-known/oauth-authorization-server`)).json()) as {
      pushed_authorization_request_endpoint: string;
    };
    const form = new URLSearchParams(url.searchParams);
    form.set('authorization_details', JSON.stringify(this.authorizationDetails));
    const pushed = await fetch(metadata.pushed_authorization_request_endpoint, { method: 'POST', body: form });
    const { request_uri: requestUri } = (await pushed.json()) as { request_uri?: string };
    if (!requestUri) throw new Error(`PAR refused: ${pushed.status}`);
    const authorize = new URL(url.origin + url.pathname);
    authorize.search = new URLSearchParams({ client_id: url.searchParams.get('client_id') ?? '', request_uri: requestUri }).toString();
    const callback = await authorizeInBrowser(new ScriptedBrowser(this.issuer), authorize, this.login());
    const error = callback.searchParams.get('error');
    if (error) throw new Error(`authorization failed: ${error} (${callback.searchParams.get('error_description')})`);
    this.callback = callback.searchParams;
    this.code = callback.searchParams.get('code') ?? '';
  }
}

/**
 * The same agent without a pre-registered client: when the IdP advertises
 * Client ID Metadata Documents, the SDK uses `clientMetadataUrl` as its
 * client_id (MCP 2025-11-25 client registration), and the IdP fetches it.
 */
export class MetadataDocumentLoginProvider extends ScriptedLoginProvider {
  #registered: OAuthClientInformation | undefined;

  constructor(
    issuer: string,
    login: () => LoginScript,
    authorizationDetails: readonly Record<string, unknown>[],
    readonly clientMetadataUrl: string,
  ) {
    super(issuer, login, authorizationDetails);
  }

  override clientInformation(): OAuthClientInformation | undefined {
    return this.#registered;
  }

  saveClientInformation(information: OAuthClientInformation): void {
    this.#registered = information;
  }
}
