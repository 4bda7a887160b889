import { request } from 'node:https';
import type { ParsedConfig } from '../config/schema.js';

export type MetadataDocumentPolicy = ParsedConfig['client_id_metadata_documents'];

/** A document refused, with the reason for the operator's log (never shown to the client verbatim). */
export class MetadataDocumentError extends Error {
  override readonly name = 'MetadataDocumentError';
}

/** What a Client ID Metadata Document may say, once checked. */
export interface MetadataDocument {
  readonly clientId: string;
  readonly clientName: string | undefined;
  readonly redirectUris: readonly string[];
  readonly grantTypes: readonly ('authorization_code' | 'refresh_token')[];
  readonly scope: readonly string[] | undefined;
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.some((pattern) =>
    pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern,
  );
}

/**
 * Whether `clientId` names a metadata document this IdP may fetch: an https
 * URL with a path, no credentials, query, fragment or dot segments, on an
 * allowed host (the allow list is the SSRF boundary: nothing else is ever
 * fetched).
 */
export function documentUrl(clientId: string, policy: MetadataDocumentPolicy): URL | undefined {
  if (!policy.enabled || !URL.canParse(clientId)) return undefined;
  const url = new URL(clientId);
  if (url.protocol !== 'https:' || url.href !== clientId) return undefined;
  if (url.username || url.password || url.search || url.hash || url.pathname === '/') return undefined;
  if (clientId.split('/').some((segment) => segment === '.' || segment === '..')) return undefined;
  return hostAllowed(url.host, policy.allowed_hosts) ? url : undefined;
}

/** GET over https: no redirects, a deadline, a size ceiling, JSON only. */
function fetchDocument(url: URL, policy: MetadataDocumentPolicy, ca: string | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'GET', headers: { accept: 'application/json' }, timeout: policy.timeout_ms, ...(ca ? { ca } : {}) },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new MetadataDocumentError(`the document answered ${res.statusCode} (redirects are not followed)`));
          return;
        }
        if (!/^application\/(.+\+)?json(;|$)/.test(res.headers['content-type'] ?? '')) {
          res.resume();
          reject(new MetadataDocumentError('the document is not JSON'));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > policy.max_bytes) {
            req.destroy();
            reject(new MetadataDocumentError(`the document is larger than ${policy.max_bytes} bytes`));
          } else chunks.push(chunk);
        });
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            reject(new MetadataDocumentError('the document is not valid JSON'));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new MetadataDocumentError('the document took too long')));
    req.on('error', (error) =>
      reject(error instanceof MetadataDocumentError ? error : new MetadataDocumentError(`fetch failed: ${error.message}`)),
    );
    req.end();
  });
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]']);

/**
 * A redirect URI a document may register: an http loopback IP (a native app,
 * any port per RFC 8252 §7.3) or https on the document's own host, so a
 * document cannot send codes to a third party.
 */
function redirectAllowed(uri: unknown, documentHost: string): uri is string {
  if (typeof uri !== 'string' || !URL.canParse(uri)) return false;
  const url = new URL(uri);
  if (url.hash) return false;
  if (url.protocol === 'http:') return LOOPBACK.has(url.hostname);
  return url.protocol === 'https:' && url.host === documentHost;
}

/**
 * Fetches and checks a Client ID Metadata Document: its `client_id` is
 * exactly the URL it came from; it describes a public client (no secret,
 * `token_endpoint_auth_method: none`) using the authorization code grant;
 * its redirect URIs are loopback or on its own host.
 */
export async function loadMetadataDocument(url: URL, policy: MetadataDocumentPolicy, ca: string | undefined): Promise<MetadataDocument> {
  const raw = await fetchDocument(url, policy, ca);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new MetadataDocumentError('the document is not a JSON object');
  const doc = raw as Record<string, unknown>;
  if (doc.client_id !== url.href) throw new MetadataDocumentError('the document names another client_id');
  if ('client_secret' in doc || 'client_secret_expires_at' in doc)
    throw new MetadataDocumentError('a metadata document must not carry a secret');
  if ((doc.token_endpoint_auth_method ?? 'none') !== 'none')
    throw new MetadataDocumentError('only public clients (token_endpoint_auth_method none)');
  const redirectUris = doc.redirect_uris;
  if (
    !Array.isArray(redirectUris) ||
    redirectUris.length === 0 ||
    redirectUris.length > 10 ||
    !redirectUris.every((u) => redirectAllowed(u, url.host))
  )
    throw new MetadataDocumentError('redirect_uris must be loopback or https on the document host');
  const grantTypes = doc.grant_types ?? ['authorization_code'];
  if (
    !Array.isArray(grantTypes) ||
    !grantTypes.every((g) => g === 'authorization_code' || g === 'refresh_token') ||
    !grantTypes.includes('authorization_code')
  )
    throw new MetadataDocumentError('grant_types may be authorization_code and refresh_token only');
  const responseTypes = doc.response_types ?? ['code'];
  if (!Array.isArray(responseTypes) || responseTypes.some((t) => t !== 'code'))
    throw new MetadataDocumentError('response_types must be code');
  const name = doc.client_name;
  if (name !== undefined && (typeof name !== 'string' || name.length > 100))
    throw new MetadataDocumentError('client_name must be short text');
  if (doc.scope !== undefined && typeof doc.scope !== 'string') throw new MetadataDocumentError('scope must be a string');
  return {
    clientId: url.href,
    clientName: name,
    redirectUris,
    grantTypes: grantTypes as MetadataDocument['grantTypes'],
    scope: typeof doc.scope === 'string' ? doc.scope.split(' ').filter(Boolean) : undefined,
  };
}
