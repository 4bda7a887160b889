import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config/load.js';

const DEMO_FILE = fileURLToPath(new URL('../../../../examples/demo/palisade.yaml', import.meta.url));
type Doc = Record<string, unknown> & { clients: Record<string, unknown>[]; users: Record<string, unknown>[] };
const demoDocument = (): Doc => parseYaml(readFileSync(DEMO_FILE, 'utf8')) as Doc;

function problemsOf(document: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseConfig(document, 'test', env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return assert.fail('configuration was accepted');
}

describe('configuration (docs/configuration.md)', () => {
  it('accepts the demo realm and fills in defaults', () => {
    const config = loadConfigFile(DEMO_FILE, {});
    assert.equal(config.issuer, 'http://127.0.0.1:9400');
    assert.equal(config.listen.port, 9400);
    assert.equal(config.lifetimes.access_token, 300);
    assert.equal(config.lifetimes.authorization_code, 60);
    assert.deepEqual(config.keys.algorithms, ['ES256', 'RS256']);
    assert.deepEqual(
      config.clients.map((c) => c.client_id),
      [
        'ops-bot',
        'assistant',
        'palisade-cli',
        'mcp-gateway',
        'mcp-gateway-push',
        'report-service',
        'files-service',
        'payments-service',
        'hr-service',
      ],
    );
  });

  it('resolves ${VAR} and ${VAR:-default} from the environment', () => {
    const config = loadConfigFile(DEMO_FILE, { PALISADE_IDP_PORT: '9500', OPS_BOT_SECRET: 'from-the-environment' });
    assert.equal(config.issuer, 'http://127.0.0.1:9500');
    assert.equal(config.listen.port, 9500);
    assert.equal(config.clients[0]?.client_secret, 'from-the-environment');
  });

  it('names the key that references an unset variable', () => {
    const doc = demoDocument();
    (doc.clients[0] as Record<string, unknown>).client_secret = '${NOT_SET_ANYWHERE}';
    assert.deepEqual(problemsOf(doc), ['clients[0].client_secret references ${NOT_SET_ANYWHERE}, which is not set']);
  });

  const cases: { name: string; edit: (doc: Doc) => void; expected: RegExp }[] = [
    {
      name: 'a relative redirect URI',
      edit: (d) => {
        (d.clients[1] as Record<string, unknown>).redirect_uris = ['/callback'];
      },
      expected: /^clients\[1\]\.redirect_uris\[0\] must be an absolute http\(s\) URL$/,
    },
    {
      name: 'an unknown key',
      edit: (d) => {
        d.isuer = 'x';
      },
      expected: /^\(top level\): unknown key\(s\) isuer$/,
    },
    {
      name: 'an unknown grant type',
      edit: (d) => {
        (d.clients[0] as Record<string, unknown>).grant_types = ['password'];
      },
      expected: /^clients\[0\]\.grant_types\[0\] /u,
    },
    {
      name: 'a plain password instead of a hash',
      edit: (d) => {
        (d.users[0] as Record<string, unknown>).password_hash = 'alice-password';
      },
      expected: /^users\[0\]\.password_hash must be an argon2id hash/,
    },
    {
      name: 'a TOTP secret under 128 bits',
      edit: (d) => {
        (d.users[0] as Record<string, unknown>).totp_secret = 'JBSWY3DPEHPK3PXP';
      },
      expected: /^users\[0\]\.totp_secret must be base32 of at least 128 bits$/,
    },
    {
      name: 'an http issuer that is not loopback',
      edit: (d) => {
        d.issuer = 'http://idp.internal.example';
      },
      expected: /^issuer must use https unless it is a loopback address/,
    },
    {
      name: 'an https redirect rule broken',
      edit: (d) => {
        (d.clients[1] as Record<string, unknown>).redirect_uris = ['http://app.internal.example/cb'];
      },
      expected: /^clients\[1\]\.redirect_uris\[0\] must use https unless loopback$/,
    },
    {
      name: 'a secret method without a secret',
      edit: (d) => {
        delete (d.clients[0] as Record<string, unknown>).client_secret;
      },
      expected: /^clients\[0\]\.client_secret is required by client_secret_basic, client_secret_post$/,
    },
    {
      name: 'a public client with client_credentials',
      edit: (d) => {
        (d.clients[2] as Record<string, unknown>).grant_types = ['client_credentials'];
      },
      expected: /^clients\[2\]\.grant_types: a public client cannot use client_credentials/,
    },
    {
      name: 'a scope nobody declared',
      edit: (d) => {
        (d.clients[0] as Record<string, unknown>).scopes = ['tools.access', 'root'];
      },
      expected: /^clients\[0\]\.scopes\[1\]: unknown scope root$/,
    },
    {
      name: 'a default resource that is not a resource server',
      edit: (d) => {
        (d.clients[0] as Record<string, unknown>).default_resource = 'https://elsewhere.example';
      },
      expected: /^clients\[0\]\.default_resource is not a configured resource server audience$/,
    },
    {
      name: 'an issuer with a path',
      edit: (d) => {
        d.issuer = 'https://idp.internal.example/tenant';
      },
      expected: /^issuer must not have a path/,
    },
    {
      name: 'signing keys without RS256',
      edit: (d) => {
        d.keys = { algorithms: ['ES256'] };
      },
      expected: /^keys\.algorithms must include RS256/,
    },
    {
      name: 'a private key in a client jwks',
      edit: (d) => {
        d.clients.push({
          client_id: 'leaky',
          token_endpoint_auth_method: 'private_key_jwt',
          grant_types: ['client_credentials'],
          jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'private' }] },
        });
      },
      expected: /^clients\[9\]\.jwks\.keys\[0\] must be a public key/,
    },
    {
      name: 'an empty port',
      edit: (d) => {
        d.listen = { port: '' };
      },
      expected: /^listen\.port must be a port number$/,
    },
    {
      name: 'a user whose sub is a client_id',
      edit: (d) => {
        (d.users[1] as Record<string, unknown>).sub = 'ops-bot';
      },
      expected: /^users\[1\]: sub ops-bot is also a client_id/,
    },
    {
      name: 'a resource server authenticating as a public client',
      edit: (d) => {
        (d.resource_servers as Record<string, unknown>[])[0] = {
          audience: 'http://127.0.0.1:9401/mcp',
          name: 'Gateway',
          client_id: 'palisade-cli',
        };
      },
      expected: /^resource_servers\[0\]\.client_id names a public client/,
    },
    {
      name: 'a default resource outside the client resources',
      edit: (d) => {
        (d.clients[0] as Record<string, unknown>).resources = ['http://127.0.0.1:9410'];
      },
      expected: /^clients\[0\]\.default_resource must also be listed in clients\[0\]\.resources$/,
    },
    {
      name: 'an authorization detail type whose template names an undeclared field',
      edit: (d) => {
        (d.authorization_details_types as Record<string, Record<string, unknown>>).tool_access = {
          description: 'x',
          template: '{verbs} on {locations}',
          fields: { locations: { type: 'array' } },
        };
      },
      expected: /^authorization_details_types\.tool_access\.template uses \{verbs\}, which is not a declared field$/,
    },
    {
      name: 'an authorization detail field schema that is not JSON Schema',
      edit: (d) => {
        (d.authorization_details_types as Record<string, Record<string, unknown>>).tool_access = {
          description: 'x',
          template: '{locations}',
          fields: { locations: { type: 'arrayy' } },
        };
      },
      expected: /^authorization_details_types\.tool_access\.fields: not a valid JSON Schema/,
    },
    {
      name: 'a client allowed an unknown detail type',
      edit: (d) => {
        (d.clients[0] as Record<string, unknown>).authorization_details_types = ['nuclear_launch'];
      },
      expected: /^clients\[0\]\.authorization_details_types\[0\]: unknown type nuclear_launch$/,
    },
    {
      name: 'a duplicate client id',
      edit: (d) => {
        d.clients.push({ ...(d.clients[0] as Record<string, unknown>) });
      },
      expected: /^clients\[9\]\.client_id: duplicate client_id ops-bot \(first at clients\[0\]\)$/,
    },
    {
      name: 'a CIBA ping client without a notification endpoint',
      edit: (d) => {
        delete (d.clients[3] as Record<string, unknown>).backchannel_client_notification_endpoint;
      },
      expected: /^clients\[3\]\.backchannel_client_notification_endpoint is required in ping mode$/,
    },
    {
      name: 'a plain-http notification endpoint that is not loopback',
      edit: (d) => {
        (d.clients[3] as Record<string, unknown>).backchannel_client_notification_endpoint = 'http://gateway.internal.example/ciba';
      },
      expected: /^clients\[3\]\.backchannel_client_notification_endpoint must use https/,
    },
    {
      name: 'a loopback http notification endpoint under an https issuer',
      edit: (d) => {
        d.issuer = 'https://idp.internal.example';
      },
      expected: /^clients\[3\]\.backchannel_client_notification_endpoint must use https/,
    },
    {
      name: 'a CIBA client without a delivery mode',
      edit: (d) => {
        delete (d.clients[1] as Record<string, unknown>).backchannel_token_delivery_mode;
      },
      expected: /^clients\[1\]\.backchannel_token_delivery_mode is required with the CIBA grant type$/,
    },
    {
      name: 'a public CIBA client',
      edit: (d) => {
        const cli = d.clients[2] as Record<string, unknown>;
        cli.grant_types = ['authorization_code', 'urn:openid:params:grant-type:ciba'];
        cli.backchannel_token_delivery_mode = 'poll';
      },
      expected: /^clients\[2\]\.grant_types: a public client cannot use CIBA/,
    },
    {
      name: 'backchannel settings without the CIBA grant',
      edit: (d) => {
        (d.clients[0] as Record<string, unknown>).backchannel_token_delivery_mode = 'poll';
      },
      expected: /^clients\[0\]: backchannel settings need the urn:openid:params:grant-type:ciba grant type$/,
    },
    {
      name: 'two users with one email in different case',
      edit: (d) => {
        (d.users[1] as Record<string, unknown>).email = 'Alice@Example.com';
      },
      expected: /^users\[1\]\.email: duplicate email alice@example\.com \(first at users\[0\]\)$/,
    },
    {
      name: 'a code lifetime over 60 s',
      edit: (d) => {
        d.lifetimes = { authorization_code: 600 };
      },
      expected: /^lifetimes\.authorization_code must be at most 60 s/,
    },
  ];
  for (const { name, edit, expected } of cases) {
    it(`refuses ${name}, naming the exact path`, () => {
      const doc = demoDocument();
      edit(doc);
      const problems = problemsOf(doc);
      assert.ok(
        problems.some((p) => expected.test(p)),
        `expected ${expected} in ${JSON.stringify(problems)}`,
      );
    });
  }

  it('reports YAML syntax errors with the file name', () => {
    assert.throws(
      () => loadConfigFile('/nonexistent/palisade.yaml'),
      (e: ConfigError) => e.message.startsWith('/nonexistent/palisade.yaml: invalid configuration'),
    );
  });

  it('client_id_metadata_documents: enabled needs allowed hosts; its resources and detail types must exist', () => {
    const document = demoDocument();
    document.client_id_metadata_documents = { enabled: true, resources: ['http://127.0.0.1:9999'], authorization_details_types: ['nope'] };
    assert.deepEqual(problemsOf(document), [
      'client_id_metadata_documents.allowed_hosts: name the hosts documents may come from (nothing else is fetched)',
      'client_id_metadata_documents.resources[0]: http://127.0.0.1:9999 is not a resource server',
      'client_id_metadata_documents.authorization_details_types[0]: nope is not a declared type',
    ]);
    document.client_id_metadata_documents = { enabled: true, allowed_hosts: ['https://agents.example.com'] };
    assert.match(problemsOf(document)[0] ?? '', /^client_id_metadata_documents\.allowed_hosts\[0\] must be a host name/);
  });
});
