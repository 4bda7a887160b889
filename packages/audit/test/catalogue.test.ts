import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AUDIT_EVENTS, redactSecrets } from '../src/index.js';

const DOC = fileURLToPath(new URL('../../../../docs/audit-events.md', import.meta.url));

it('every event of the catalogue is documented in docs/audit-events.md, with each of its data fields', () => {
  const doc = readFileSync(DOC, 'utf8');
  for (const [name, { data }] of Object.entries(AUDIT_EVENTS)) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\``));
    assert.ok(row, `${name} is not in docs/audit-events.md`);
    for (const field of Object.keys(data)) assert.ok(row.includes(`\`${field}\``), `${name}.data.${field} is not documented`);
  }
});

it('event names are <entity>.<past-tense-verb>', () => {
  // A past participle ends the name: regular (-ed), irregular (sent, withdrawn), or a phrasal verb (signed_out, locked_out).
  for (const name of Object.keys(AUDIT_EVENTS)) assert.match(name, /^[a-z_]+\.([a-z]+_)*([a-z]+ed|sent|withdrawn|[a-z]+ed_(out|in))$/);
});

it('a JWT or a SAML assertion put in an event by mistake is replaced before it is stored', () => {
  const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
  const { value, redacted } = redactSecrets({ data: { note: jwt, list: ['ok', '<saml:Assertion ID="x">'] }, sub: 'alice' });
  assert.deepEqual(value, { data: { note: '[redacted]', list: ['ok', '[redacted]'] }, sub: 'alice' });
  assert.equal(redacted, 2);
});
