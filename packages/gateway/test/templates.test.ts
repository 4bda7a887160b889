import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashOf } from '@palisade/agent';
import { ConfigError } from '@palisade/core';
import { parse as parseYaml } from 'yaml';
import { parseGatewayConfig } from '../src/config.js';
import { MissingArgument, render, renderUrl } from '../src/template.js';

const DEMO = fileURLToPath(new URL('../../../../examples/demo/gateway.yaml', import.meta.url));

describe('gateway templates (docs/gateway.md)', () => {
  it('a whole-string placeholder keeps its JSON type; {x?} drops an absent key; inside text, the text', () => {
    assert.deepEqual(render({ a: '{n}', b: 'id-{s}', c: '{gone?}', d: ['{s}', '{gone?}'] }, { n: 5, s: 'x' }), {
      a: 5,
      b: 'id-x',
      d: ['x'],
    });
    assert.throws(() => render({ a: '{missing}' }, {}), MissingArgument);
  });

  it('URL placeholders are percent-encoded, and . or .. (dot segments no encoding can stop) are refused', () => {
    assert.equal(renderUrl('http://t/finance/{p}', { p: 'a/../b?c#d' }), 'http://t/finance/a%2F..%2Fb%3Fc%23d');
    for (const p of ['.', '..']) assert.throws(() => renderUrl('http://t/finance/{p}', { p }), MissingArgument);
  });

  it('configuration: placeholders only after the origin (an argument never picks the host), and only declared arguments', () => {
    const problems = (edit: (tool: { call: { url: string } }) => void) => {
      const document = parseYaml(readFileSync(DEMO, 'utf8')) as { tools: { call: { url: string } }[] };
      edit(document.tools[0] as { call: { url: string } });
      try {
        parseGatewayConfig(document, 'test', {});
        return [];
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
    };
    assert.deepEqual(
      problems(() => {}),
      [],
    );
    assert.deepEqual(
      problems((tool) => {
        tool.call.url = 'http://{path}/finance';
      }),
      ['tools[0].call.url: placeholders may appear only after the origin and its first "/"'],
    );
    assert.deepEqual(
      problems((tool) => {
        tool.call.url = 'http://127.0.0.1:9410/finance/{nope}';
      }),
      ['tools[0].call.url: {nope} is not an argument of the tool'],
    );
  });

  it('the at_hash of a pushed ID token uses its own algorithm’s hash (EdDSA: SHA-512)', () => {
    assert.deepEqual(['ES256', 'RS256', 'PS384', 'ES512', 'EdDSA'].map(hashOf), ['sha256', 'sha256', 'sha384', 'sha512', 'sha512']);
  });
});
