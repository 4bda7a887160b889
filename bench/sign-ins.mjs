// People signing in, in a process of their own: the complete authorization-code flow with PKCE,
// scripted (no browser): authorize, password (argon2id), consent, code, token. The suite asks it over
// IPC for refresh tokens, to repair refresh chains and to count flows per second. Kept out of the load
// generator's process: there autocannon keeps the event loop so busy that fetch's idle keep-alive
// connections are reused just as the server closes them ("other side closed").
//   { op: 'signIns', count }           → { tokens }   `count` refresh tokens of fresh sign-ins
//   { op: 'repair', tokens }           → { tokens }   each chain refreshed once, a broken one replaced
//   { op: 'flows', seconds, parallel } → { perSecond }
import { createHash, randomBytes } from 'node:crypto';
import { authorizeInBrowser, ScriptedBrowser } from '@palisade/cli/headless';

const issuer = process.env.ISSUER;
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const CLIENT = 'palisade-cli';
const REDIRECT_URI = 'http://127.0.0.1:8123/callback';

async function token(params) {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: form,
    body: new URLSearchParams({ client_id: CLIENT, ...params }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`token endpoint: ${response.status} ${body.error}`);
  return body;
}

async function signIn() {
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL('/authorize', issuer);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT,
    redirect_uri: REDIRECT_URI,
    scope: 'openid offline_access',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const callback = await authorizeInBrowser(new ScriptedBrowser(issuer), authorize, { username: 'bob', password: 'bob-password' });
  const tokens = await token({
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code') ?? '',
    code_verifier: verifier,
    redirect_uri: REDIRECT_URI,
  });
  return tokens.refresh_token;
}

/** `work` on every item, at most `parallel` at a time (bob's parallel password attempts beyond max_failures would lock him out). */
async function inBatches(items, parallel, work) {
  const results = [];
  for (let i = 0; i < items.length; i += parallel) results.push(...(await Promise.all(items.slice(i, i + parallel).map(work))));
  return results;
}

const signIns = (count) => inBatches(Array.from({ length: count }), 4, signIn);

/** A run's end cuts requests short, so a chain may have rotated unseen: each is tried once, and a broken one replaced. */
async function repair(tokens) {
  return inBatches(tokens, 4, async (refreshToken) => {
    try {
      return (await token({ grant_type: 'refresh_token', refresh_token: refreshToken })).refresh_token;
    } catch {
      return signIn();
    }
  });
}

async function flows(seconds, parallel) {
  let done = 0;
  const started = Date.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (Date.now() < until) {
        await signIn();
        done++;
      }
    }),
  );
  return done / ((Date.now() - started) / 1000);
}

process.on('message', async (message) => {
  if (message === 'exit') process.exit(0);
  try {
    if (message.op === 'signIns') process.send({ tokens: await signIns(message.count) });
    else if (message.op === 'repair') process.send({ tokens: await repair(message.tokens) });
    else if (message.op === 'flows') process.send({ perSecond: await flows(message.seconds, message.parallel) });
  } catch (error) {
    process.send({ error: String(error?.stack ?? error) });
  }
});
process.send({ ready: true });
