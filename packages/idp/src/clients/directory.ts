import { readFileSync } from 'node:fs';
import type { ParsedConfig, SigningAlgorithm } from '../config/schema.js';
import type { Client } from '../realm.js';
import { documentUrl, loadMetadataDocument, type MetadataDocument, MetadataDocumentError } from './metadata-document.js';

/** Documents kept at most (oldest dropped first): the cache cannot grow without bound. */
const MAX_DOCUMENTS = 1000;
/** Seconds a refused document is not fetched again. */
const REFUSAL_SECONDS = 30;

interface Cached {
  readonly client: Client | undefined;
  readonly until: number;
}

/**
 * Every client the IdP knows: the configured ones, and clients described by
 * a Client ID Metadata Document (an https `client_id` on an allowed host),
 * fetched when first seen and reused for `cache_seconds`.
 *
 * `resolve` is what endpoints call for a client_id that came from the
 * network (it may fetch); `get` answers from what is known in this process
 * without I/O (pages of an interaction whose request was resolved).
 */
export class ClientDirectory {
  readonly #configured: ReadonlyMap<string, Client>;
  readonly #documents = new Map<string, Cached>();
  readonly #inFlight = new Map<string, Promise<Client | undefined>>();
  readonly #ca: string | undefined;
  /** Told why a document was refused (the IdP logs it; the client only sees invalid_client). */
  onRefused: (clientId: string, reason: string) => void = () => {};

  constructor(
    configured: ReadonlyMap<string, Client>,
    readonly config: ParsedConfig,
    readonly idTokenAlg: SigningAlgorithm,
    readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    this.#configured = configured;
    const { ca_file: caFile } = config.client_id_metadata_documents;
    this.#ca = caFile ? readFileSync(caFile, 'utf8') : undefined;
  }

  /** The configured clients. */
  get configured(): ReadonlyMap<string, Client> {
    return this.#configured;
  }

  get(id: string): Client | undefined {
    return this.#configured.get(id) ?? this.#documents.get(id)?.client;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** The client, fetching its metadata document when its id is one and it is not fresh here. */
  async resolve(id: string): Promise<Client | undefined> {
    const configured = this.#configured.get(id);
    if (configured) return configured;
    const url = documentUrl(id, this.config.client_id_metadata_documents);
    if (!url) return undefined;
    const cached = this.#documents.get(id);
    if (cached && cached.until > this.now()) return cached.client;
    let pending = this.#inFlight.get(id);
    if (!pending) {
      pending = this.#fetch(url).finally(() => this.#inFlight.delete(id));
      this.#inFlight.set(id, pending);
    }
    return pending;
  }

  async #fetch(url: URL): Promise<Client | undefined> {
    const policy = this.config.client_id_metadata_documents;
    let client: Client | undefined;
    try {
      client = this.#clientOf(await loadMetadataDocument(url, policy, this.#ca));
    } catch (error) {
      if (!(error instanceof MetadataDocumentError)) throw error;
      this.onRefused(url.href, error.message);
    }
    this.#documents.delete(url.href);
    if (this.#documents.size >= MAX_DOCUMENTS) this.#documents.delete(this.#documents.keys().next().value ?? '');
    this.#documents.set(url.href, { client, until: this.now() + (client ? policy.cache_seconds : REFUSAL_SECONDS) });
    return client;
  }

  /** A document's client: public, consent every time, never more than the policy allows. */
  #clientOf(doc: MetadataDocument): Client {
    const policy = this.config.client_id_metadata_documents;
    const allowed = new Set(policy.scopes);
    const host = new URL(doc.clientId).host;
    return {
      id: doc.clientId,
      // The host is part of the name people see: a document cannot pass for a configured client.
      name: doc.clientName ? `${doc.clientName} (${host})` : host,
      secretHash: undefined,
      authMethods: new Set(['none']),
      isPublic: true,
      jwks: undefined,
      grantTypes: new Set(doc.grantTypes),
      redirectUris: doc.redirectUris,
      postLogoutRedirectUris: [],
      scopes: new Set(doc.scope ? doc.scope.filter((s) => allowed.has(s)) : policy.scopes),
      defaultScopes: [],
      defaultResource: undefined,
      resources: new Set(policy.resources),
      idTokenAlg: this.idTokenAlg,
      requireConsent: true,
      authorizationDetailsTypes: new Set(policy.authorization_details_types),
      requirePushedAuthorizationRequests: this.config.par.required,
      dpopBoundAccessTokens: false,
      deliveryMode: undefined,
      notificationEndpoint: undefined,
    };
  }
}
