import { resourceMetadataUrl } from './challenge.js';

export interface ResourceMetadataOptions {
  readonly audience: string;
  readonly issuer: string;
  readonly name?: string;
  readonly scopes?: readonly string[];
  readonly authorizationDetailsTypes?: readonly string[];
}

/** RFC 9728 §2: Protected Resource Metadata for this tool. */
export function protectedResourceMetadata(options: ResourceMetadataOptions): Record<string, unknown> {
  return {
    resource: options.audience,
    authorization_servers: [options.issuer],
    bearer_methods_supported: ['header'],
    resource_signing_alg_values_supported: ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'],
    ...(options.name ? { resource_name: options.name } : {}),
    ...(options.scopes?.length ? { scopes_supported: options.scopes } : {}),
    ...(options.authorizationDetailsTypes?.length ? { authorization_details_types_supported: options.authorizationDetailsTypes } : {}),
  };
}

/** The path this metadata is served at (path-inserted for resources with a path, RFC 9728 §3.1). */
export function protectedResourceMetadataPath(audience: string): string {
  return new URL(resourceMetadataUrl(audience)).pathname;
}
