import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { backchannelRequest, CIBA, Device, NotificationReceiver, redeem, startCibaIdp } from '../helpers/ciba.js';
import { ExchangingService } from '../helpers/exchange.js';
import { field } from '../helpers/http.js';
import { DEMO, type TestIdp } from '../helpers/idp.js';
import { startTestTools, type TestTools } from '../helpers/tools.js';

const TRANSFER = {
  instructedAmount: { currency: 'EUR', amount: '25000.00' },
  creditorName: 'Acme Supplies GmbH',
  creditorAccount: { iban: 'DE89370400440532013000' },
};
const DETAIL = { type: 'payment_initiation', locations: [DEMO.tools.payments], actions: ['initiate'], ...TRANSFER };

describe('a transfer above the threshold, approved on the device (CIBA) and carried out by the payments tool', () => {
  let server: TestIdp;
  let receiver: NotificationReceiver;
  let tools: TestTools;
  let device: Device;
  let gateway: ExchangingService;

  before(async () => {
    receiver = await new NotificationReceiver().start();
    server = await startCibaIdp(receiver);
    tools = await startTestTools(server.issuer, () => server.clock.now());
    device = new Device(server);
    await device.signIn('alice');
    gateway = await ExchangingService.connect(server.issuer, DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
  });
  after(async () => {
    await tools.close();
    await server.close();
    await receiver.close();
  });

  /** The gateway asks alice (ping mode) to approve exactly this payment; returns the approval's gateway token, or the token endpoint's error. */
  async function approval(decide: 'approve' | 'deny'): Promise<{ token?: string; error?: unknown }> {
    const asked = await backchannelRequest(server, CIBA.ping, {
      scope: 'openid tools.access',
      login_hint: 'alice',
      resource: DEMO.gateway,
      binding_message: `Transfer ${decide}`,
      client_notification_token: 'gateway-ping-token',
      authorization_details: JSON.stringify([DETAIL]),
    });
    const shown = (await device.pending()).find((r) => r.binding_message === `Transfer ${decide}`) ?? assert.fail();
    assert.deepEqual(shown.headlines, [
      'Palisade MCP gateway asks to make a payment of EUR 25000.00 to Acme Supplies GmbH (DE89370400440532013000)',
    ]);
    if (decide === 'approve') await device.approve(shown.id);
    else await device.deny(shown.id);
    await receiver.next();
    const tokens = await redeem(server, CIBA.ping, field(asked, 'auth_req_id'));
    return tokens.status === 200 ? { token: field(tokens, 'access_token') } : { error: tokens.body.error };
  }

  const transfer = (token: string) =>
    fetch(`${tools.payments}/transfers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(TRANSFER),
    });

  it('approved: the exchanged payments token keeps the approval (acr ciba, fresh auth_time) and the transfer goes through', async () => {
    const { token } = await approval('approve');
    assert.ok(token);
    const forPayments = await gateway.exchange(token, { audience: DEMO.tools.payments, authorization_details: JSON.stringify([DETAIL]) });
    const claims = decodeJwt(forPayments.access_token);
    assert.deepEqual([claims.sub, claims.acr, claims.aud], ['alice', 'urn:palisade:acr:ciba', DEMO.tools.payments]);
    assert.ok(Math.abs(server.clock.now() - Number(claims.auth_time)) <= 60);
    const response = await transfer(forPayments.access_token);
    assert.equal(response.status, 201, await response.clone().text());
    assert.equal(((await response.json()) as { initiatedBy: string }).initiatedBy, 'alice');
  });

  it('denied: no token at all, so nothing can reach payments', async () => {
    const { token, error } = await approval('deny');
    assert.equal(token, undefined);
    assert.equal(error, 'access_denied');
  });

  it('an approval older than five minutes no longer moves money above the threshold (RFC 9470 max_age)', async () => {
    const { token } = await approval('approve');
    server.clock.advance(200);
    // The token is fresh (exchanged now); the approval behind it is not.
    const forPayments = await gateway.exchange(token ?? '', {
      audience: DEMO.tools.payments,
      authorization_details: JSON.stringify([DETAIL]),
    });
    server.clock.advance(101);
    const response = await transfer(forPayments.access_token);
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /insufficient_user_authentication/);
  });
});
