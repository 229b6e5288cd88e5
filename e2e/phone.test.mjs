// A visitor's browser call sent to a call center's phone over a SIP trunk (PC to
// phone). SIPp plays the call center (lib/sipp.mjs, sipp/*.xml); its answer
// points the media at a test phone (lib/phone.mjs) that sends a 1000 Hz tone in
// G.711 µ-law and keys DTMF as RFC 4733 events. The visitor's fake microphone
// plays 440 Hz. Each side proves it hears the other by frequency: the phone by
// Goertzel on the RTP it decodes, the call window by a WebAudio analyser.
//
// Needs SIPp (apt-get install sip-tester): without it these tests skip, unless
// CI=true, where nothing may skip.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  TIMEOUT_MS, addWidget, launchBrowser, recordVisitorFrames, until, waitForText, widget,
} from './lib/browser.mjs';
import { pageForTest, serverForTest, sharedBrowser } from './lib/hooks.mjs';
import { toneFile, waitForTone } from './lib/media.mjs';
import { VISITOR_HEARS, openCallWindow, waitForCallState } from './lib/calls.mjs';
import { createPhone } from './lib/phone.mjs';
import { SIPP_PATH, haveSipp, startSipp } from './lib/sipp.mjs';
import { phoneTenant } from './lib/tenants.mjs';

const VISITOR_HZ = 440;
const PHONE_HZ = 1000;
const DTMF_PT = 101;
const PUSH_URL = 'https://shop.example/checkout';
const CALLER_IDS = ['+15125550900', '+15125550901'];
const TENANT = 'phoneco';
const LINK = 'phone-sales';

const skip = !haveSipp() && process.env.CI !== 'true' ? `SIPp is not installed at ${SIPP_PATH} (apt-get install sip-tester)` : false;
if (skip) console.log(`skipping the phone tests: ${skip}`);

/** The tenant: one link whose calls go to the "hq" center's phone over the trunk at sippPort. */
const tenantFile = (sippPort) =>
  phoneTenant({ trunkPort: sippPort, callerIds: CALLER_IDS, pushUrl: PUSH_URL }).toString();

// As lib/media.mjs's launchMediaBrowser, plus a resolver rule: the pushed page's
// host never reaches DNS (the test answers it with page.route anyway).
const fixture = sharedBrowser(
  () =>
    launchBrowser([
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      `--use-file-for-fake-audio-capture=${toneFile(VISITOR_HZ)}`,
      '--host-resolver-rules=MAP shop.example ~NOTFOUND',
    ]),
  { skip },
);

/** A call center (SIPp) and a server whose tenant's trunk points at it; stopped when the test ends. */
async function setUp(t, { scenario, phonePort = 0 }) {
  const cc = await startSipp({ scenario, phonePort });
  t.after(() => cc.stop());
  const server = await serverForTest(t, { tenantFiles: [tenantFile(cc.port)], extraArgs: ['--sip-addr', '127.0.0.1:0'] });
  return { cc, server };
}

/**
 * The visitor on the demo shop with the phone link's widget, pressing Call:
 * resolves to the merchant page, the call window and the frames each received.
 */
async function visitorCalls(t, server) {
  const v = await pageForTest(t, fixture.browser);
  // The pushed page, served by the test: nothing leaves the machine.
  await v.context.route('https://shop.example/**', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Checkout</title><h1>Checkout</h1>' }),
  );
  const pageFrames = recordVisitorFrames(v.page);
  // The call window is a popup: listen from its creation, before it connects.
  const popupFrames = [];
  v.context.on('page', (p) => recordVisitorFrames(p, popupFrames));
  await v.page.goto(`${server.publicUrl}/demo/`);
  // A cookie and an order number on the merchant's page, which the tenant shares.
  await v.page.evaluate(() => {
    document.cookie = 'cart=e2e-cart-7; path=/';
    document.cookie = 'tracking=not-shared; path=/';
    document.body.append(Object.assign(document.createElement('input'), { name: 'order', value: 'A-9' }));
  });
  await addWidget(v.page, TENANT, LINK);
  const popup = await openCallWindow(v.page, LINK, 'voice');
  return { ...v, popup, pageFrames, popupFrames };
}

/** A tenant API key, made the way an admin would (sign in, POST /api/v1/api-keys). */
async function apiKey(server) {
  const password = server.newUsers.ada;
  assert.ok(password, `tenant apply created ada:\n${server.tenantOutput.join('\n')}`);
  const login = await fetch(`${server.agentUrl}/api/v1/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ tenant: TENANT, name: 'ada', password }),
  });
  assert.equal(login.status, 200, await login.clone().text());
  const { csrf_token: csrf } = await login.json();
  const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const res = await fetch(`${server.agentUrl}/api/v1/api-keys`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Cookie: cookie, 'X-CSRF-Token': csrf },
    body: JSON.stringify({ name: 'crm' }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { key } = await res.json();
  assert.match(key, /^sbk_/);
  return key;
}

/** The first INVITE in SIPp's message log (entries are separated by lines of dashes). */
function inviteOf(sipMessages) {
  const start = sipMessages.search(/^INVITE sip:/m);
  if (start < 0) return '';
  const end = sipMessages.indexOf('\n-----', start);
  return sipMessages.slice(start, end < 0 ? undefined : end);
}

/** The caller id (E.164) in an INVITE's From header. */
function callerIdOf(invite) {
  return /^(?:From|f):[^\n]*?(?:sips?|tel):(\+?\d+)/im.exec(invite)?.[1] ?? null;
}

test('a browser call reaches the call center\'s phone: both hear each other, *76 pushes a page, hanging up sends BYE', { skip }, async (t) => {
  const phone = await createPhone({ codec: 'pcmu', toneHz: PHONE_HZ, dtmfPayloadType: DTMF_PT });
  t.after(() => phone.close());
  const { cc, server } = await setUp(t, { scenario: 'uas-answer.xml', phonePort: phone.port });
  const key = await apiKey(server);
  const v = await visitorCalls(t, server);
  const { page, popup } = v;

  // The server's INVITE: to the center's number, from a pooled caller id,
  // offering PCMU and telephone-event 101 on 127.0.0.1.
  const offer = await cc.offerMedia({ timeoutMs: TIMEOUT_MS });
  assert.equal(offer.address, '127.0.0.1');
  assert.ok(offer.payloadTypes.includes(0), `PCMU offered: ${offer.payloadTypes}`);
  const invite = inviteOf(cc.messages());
  assert.match(invite, /^INVITE sip:\+?15125550100@/, `the INVITE dials the center's number:\n${invite}`);
  assert.match(invite, /^a=rtpmap:101 telephone-event\/8000/m, 'telephone-event offered as PT 101');
  const ani = callerIdOf(invite);
  assert.ok(CALLER_IDS.includes(ani), `the From number ${ani} is one of the pool`);
  // A phone sends its media where the offer says.
  phone.setRemote(offer.address, offer.port);

  await waitForCallState(popup, 'connected', { timeout: TIMEOUT_MS });
  await phone.waitForTone(VISITOR_HZ, { timeoutMs: TIMEOUT_MS, consecutive: 5 });
  await waitForTone(popup, VISITOR_HEARS, PHONE_HZ, { label: 'the visitor' });
  assert.ok(!phone.hears(PHONE_HZ), 'the phone does not hear its own tone back');
  assert.deepEqual(phone.lastSource, { address: offer.address, port: offer.port }, 'the server sends RTP from the port it offered (symmetric RTP)');
  assert.ok((phone.stats.receivedByType[0] ?? 0) > 0, `PCMU received: ${JSON.stringify(phone.stats.receivedByType)}`);

  // The call center's CRM asks who is calling, by the caller id it sees.
  const lookup = async (number) =>
    fetch(`${server.agentUrl}/api/v1/calls/lookup?ani=${encodeURIComponent(number)}`, {
      headers: { Authorization: `Bearer ${key}` },
    });
  const found = await lookup(ani);
  assert.equal(found.status, 200, await found.clone().text());
  const session = await found.json();
  assert.equal(session.page_url, `${server.publicUrl}/demo/`);
  assert.equal(session.link, LINK);
  assert.equal(session.live, true);
  assert.deepEqual(session.cookies, { cart: 'e2e-cart-7' }, 'only the shared cookie');
  assert.deepEqual(session.fields, { order: 'A-9' });
  const other = CALLER_IDS.find((n) => n !== ani);
  assert.equal((await lookup(other)).status, 404, 'the other pooled number has no call');
  assert.equal(
    (await fetch(`${server.agentUrl}/api/v1/calls/lookup?ani=${encodeURIComponent(ani)}`)).status,
    401,
    'no key, no answer',
  );

  // The agent on the phone keys *76: the merchant page says so and opens the page;
  // the call window only shows the link, and the call goes on.
  await phone.sendDtmf('*76');
  const notice = widget(page, LINK).getByTestId('sb-push');
  await waitForText(notice, 'The agent sent you a page');
  assert.equal(await notice.getAttribute('role'), 'status');
  assert.equal(await notice.getByTestId('sb-push-link').getAttribute('href'), PUSH_URL);
  await waitForText(popup.getByTestId('sb-push'), 'The agent sent you a page');
  assert.equal(await popup.getByTestId('sb-push-link').getAttribute('href'), PUSH_URL);
  await page.waitForURL(PUSH_URL);
  assert.equal(await page.title(), 'Checkout');
  const pushed = v.pageFrames.filter((f) => f.type === 'push_page');
  assert.deepEqual(pushed.map(({ url, code }) => ({ url, code })), [{ url: PUSH_URL, code: '*76' }]);
  assert.ok(v.popupFrames.some((f) => f.type === 'push_page' && f.url === PUSH_URL));
  assert.equal(popup.url().startsWith(server.publicUrl), true, 'the call window stays where it is');
  await waitForCallState(popup, 'connected');
  // Fresh audio both ways after the page changed.
  await phone.waitForTone(VISITOR_HZ, { timeoutMs: TIMEOUT_MS, consecutive: 10 });
  await waitForTone(popup, VISITOR_HEARS, PHONE_HZ, { samples: 5, label: 'the visitor after the push' });

  // The visitor works the center's phone menu from the call window's keypad.
  await popup.getByTestId('sb-keypad-toggle').click();
  for (const key of ['1', '2', '#']) await popup.getByTestId(`sb-key-${key}`).click();
  assert.equal(await phone.waitForDigits('12#', { timeoutMs: TIMEOUT_MS }), '12#');

  // The visitor hangs up: the call center gets a BYE and its scenario completes.
  await popup.getByTestId('sb-hangup').click();
  await waitForCallState(popup, 'ended');
  await cc.expectExit(0, { timeoutMs: TIMEOUT_MS, what: 'the call center (waiting for BYE)' });
  assert.match(cc.messages(), /^BYE sip:/m);
  assert.deepEqual(v.problems.errors, []);
  assert.deepEqual(popup.problems, []);
});

test('a busy call center: the call window says the call ended, politely', { skip }, async (t) => {
  const { cc, server } = await setUp(t, { scenario: 'uas-busy.xml' });
  const v = await visitorCalls(t, server);
  const { page, popup } = v;

  await waitForCallState(popup, 'ended', { timeout: TIMEOUT_MS });
  await waitForText(popup.getByTestId('sb-call-state'), 'Call ended');
  // The visitor is told why, politely, and what to do instead.
  await waitForText(popup.getByTestId('sb-call-detail'), 'All our lines are busy');
  await popup.getByTestId('sb-close').waitFor();
  const ended = await until(() => v.popupFrames.find((f) => f.type === 'call_state' && f.state === 'ended'), {
    message: 'call_state ended in the call window',
  });
  assert.equal(ended.reason, 'busy', JSON.stringify(ended));
  // The merchant page's panel no longer shows a call in progress.
  await widget(page, LINK).getByTestId('sb-callbar').waitFor({ state: 'hidden' });
  // The center's 486 was acknowledged.
  await cc.expectExit(0, { timeoutMs: TIMEOUT_MS, what: 'the busy call center (waiting for the ACK)' });
  assert.deepEqual(v.problems.errors, []);
  assert.deepEqual(popup.problems, []);
});
