// "Call from my phone" (routing points): a visitor on a `dial_in` link is lent
// one of the tenant's numbers, an agent is reserved for them with the web
// session's screen pop, and their own phone's call to that number, coming in
// over the trunk, connects to that agent.
//
// The visitor's phone is SIPp as a UAC (lib/sipp.mjs, sipp/uac-dial-in.xml)
// dialling the routing point at the server's SIP address from 127.0.0.1, the
// trunk's allowed source; its INVITE points the media at a test phone
// (lib/phone.mjs) that sends a 1000 Hz tone in G.711 µ-law. The agent's fake
// microphone plays 440 Hz. Each side proves it hears the other by frequency:
// the phone by Goertzel on the RTP it decodes, the console by a WebAudio
// analyser on the call's remote audio.
//
// Needs SIPp (apt-get install sip-tester) and Chromium: without them these
// tests skip, unless CI=true, where nothing may skip.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import {
  CHROMIUM_PATH, TIMEOUT_MS, addWidget, loginAvailable, until, waitForText, widget, recordVisitorFrames,
} from './lib/browser.mjs';
import { pageForTest, serverForTest, sharedBrowser } from './lib/hooks.mjs';
import { launchMediaBrowser, toneFile, waitForTone } from './lib/media.mjs';
import { agentHears } from './lib/calls.mjs';
import { createPhone } from './lib/phone.mjs';
import { SIPP_PATH, freeSipPort, freeUdpPort, haveSipp, startSipp } from './lib/sipp.mjs';
import { dialInTenant } from './lib/tenants.mjs';

const AGENT_HZ = 440;
const PHONE_HZ = 1000;
const TENANT = 'dialco';
const LINK = 'phone-desk';
const AGENT = 'pat';
/** The tenant's only routing point, and how long a lent one waits. */
const ROUTING_POINT = '+15125550130';
const HOLD_SECS = 60;
/** The visitor's own phone number (the From of its call). */
const VISITOR_PHONE = '+15125557001';

const missing = [
  !haveSipp() && `SIPp is not installed at ${SIPP_PATH} (apt-get install sip-tester)`,
  !existsSync(CHROMIUM_PATH) && `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install chromium)`,
].filter(Boolean);
const skip = missing.length && process.env.CI !== 'true' ? missing.join('; ') : false;
if (skip) console.log(`skipping the routing point tests: ${skip}`);

/**
 * The tenant: a link whose calls go to agents and which lends a number to call
 * from the visitor's own phone; one agent with its queue's skill; a trunk whose
 * calls come from 127.0.0.1 (the carrier, at carrierPort).
 */
const tenantFile = (carrierPort) =>
  dialInTenant({ carrierPort, routingPoint: ROUTING_POINT, holdSecs: HOLD_SECS }).toString();

// The agent's microphone plays AGENT_HZ; the visitor's page never asks for one.
const fixture = sharedBrowser(() => launchMediaBrowser({ wav: toneFile(AGENT_HZ) }), { skip });

test('call from my phone: the widget lends the routing point, the reserved agent waits for it, the phone\'s call connects both ways, the agent hangs up with a BYE', { skip }, async (t) => {
  // The visitor's phone: its RTP socket, sending PHONE_HZ once it knows where to.
  const phone = await createPhone({ codec: 'pcmu', toneHz: PHONE_HZ });
  t.after(() => phone.close());

  // The server's SIP address is the one the phone will dial; the carrier's
  // port is where the phone's SIPp runs.
  const sipPort = await freeSipPort();
  const carrierPort = await freeUdpPort();
  const server = await serverForTest(t, {
    tenantFiles: [tenantFile(carrierPort)],
    extraArgs: ['--sip-addr', `127.0.0.1:${sipPort}`],
  });
  const password = server.newUsers[AGENT];
  assert.ok(password, `tenant apply created ${AGENT}:\n${server.tenantOutput.join('\n')}`);

  // The agent signs in and is available.
  const agent = await pageForTest(t, fixture.browser);
  await loginAvailable(agent.page, server.agentUrl, AGENT, password, { tenant: TENANT });

  // The visitor, on the demo shop with the link's widget, asks for a number.
  const visitor = await pageForTest(t, fixture.browser);
  const frames = recordVisitorFrames(visitor.page);
  await visitor.page.goto(`${server.publicUrl}/demo/`);
  await addWidget(visitor.page, TENANT, LINK);
  const w = widget(visitor.page, LINK);
  await waitForText(w.getByTestId('sb-wait'), /available|wait/i);
  const dialIn = w.getByTestId('sb-call-dialin');
  if (!(await dialIn.isVisible())) await w.getByTestId('sb-launcher').click();
  await waitForText(dialIn, 'Call from my phone');
  await dialIn.click();
  // The number connects only from the visitor's own phone: the widget asks
  // which one.
  const submit = w.getByTestId('sb-callback-submit');
  await waitForText(submit, 'Get a number to call from this phone');
  await w.getByTestId('sb-callback-phone').fill(VISITOR_PHONE);
  await submit.click();

  // The widget shows the lent number: in the conversation and on the call bar.
  const lent = await until(() => frames.find((f) => f.type === 'dial_in'), { message: 'the dial_in frame' });
  assert.deepEqual({ number: lent.number, expires_in_seconds: lent.expires_in_seconds }, { number: ROUTING_POINT, expires_in_seconds: HOLD_SECS });
  await waitForText(
    w.getByTestId('sb-chat-log'),
    `Call ${ROUTING_POINT} from your phone within ${Math.ceil(HOLD_SECS / 60)} min. An agent is being reserved for you.`,
  );
  await waitForText(w.getByTestId('sb-call-status'), `Call ${ROUTING_POINT} from your phone; an agent is being reserved for you.`);
  await waitForText(w.getByTestId('sb-state'), 'Call on your phone.');
  assert.equal(await w.getByTestId('sb-call-focus').isVisible(), false, 'no call window to show: the call is on the phone');
  assert.equal(await dialIn.isVisible(), false, 'no second number while one is lent');

  // The agent is offered the call with the web session's screen pop, accepts,
  // and waits for the visitor's phone.
  const offer = agent.page.getByTestId('offer');
  await waitForText(agent.page.locator('#offer-title'), /voice call/i);
  await waitForText(offer.getByTestId('page-url'), `${server.publicUrl}/demo/`);
  await offer.getByTestId('offer-accept').click();
  await offer.waitFor({ state: 'hidden' });
  const callState = agent.page.getByTestId('call-state');
  await waitForText(callState, `Waiting for the visitor to call ${ROUTING_POINT} from their own phone…`);
  const audio = agent.page.locator('[data-testid^="remote-audio-"]');
  await audio.waitFor({ state: 'attached' });
  const contact = Number((await audio.getAttribute('data-testid')).replace('remote-audio-', ''));

  // The visitor dials the lent number from their own phone, through the carrier.
  const caller = await startSipp({
    scenario: 'uac-dial-in.xml',
    port: carrierPort,
    remote: `127.0.0.1:${sipPort}`,
    service: ROUTING_POINT,
    phonePort: phone.port,
    keys: { caller: VISITOR_PHONE },
  });
  t.after(() => caller.stop());
  const answer = await caller.answerMedia({ timeoutMs: TIMEOUT_MS });
  assert.equal(answer.address, '127.0.0.1');
  assert.ok(answer.payloadTypes.includes(0), `PCMU answered: ${answer.payloadTypes}`);
  // A phone sends its media where the answer says.
  phone.setRemote(answer.address, answer.port);

  // Connected: the console says so, and each side hears the other.
  await waitForText(callState, /^Connected$/);
  await waitForText(w.getByTestId('sb-call-status'), /call in progress/i);
  assert.ok(
    frames.some((f) => f.type === 'call_state' && f.state === 'connected'),
    `call_state connected reached the visitor's page: ${JSON.stringify(frames.filter((f) => f.type === 'call_state'))}`,
  );
  await phone.waitForTone(AGENT_HZ, { timeoutMs: TIMEOUT_MS, consecutive: 5 });
  await waitForTone(agent.page, agentHears(contact), PHONE_HZ, { label: 'the agent' });
  assert.ok(!phone.hears(PHONE_HZ), 'the phone does not hear its own tone back');
  assert.deepEqual(phone.lastSource, { address: answer.address, port: answer.port }, 'the server sends RTP from the port it answered (symmetric RTP)');
  assert.ok((phone.stats.receivedByType[0] ?? 0) > 0, `PCMU received: ${JSON.stringify(phone.stats.receivedByType)}`);

  // The agent hangs up: the phone gets a BYE and its scenario completes.
  await agent.page.getByTestId('call-hangup').click();
  await caller.expectExit(0, { timeoutMs: TIMEOUT_MS, what: 'the visitor\'s phone (waiting for BYE)' });
  assert.match(caller.messages(), /^BYE sip:/m);
  await waitForText(callState, /ended/i);
  await w.getByTestId('sb-callbar').waitFor({ state: 'hidden' });
  assert.deepEqual(agent.problems.errors, []);
  assert.deepEqual(visitor.problems.errors, []);
});
