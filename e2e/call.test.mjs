// Voice and video calls from the widget to the agent console, through the
// server's media engine. Each party runs in its own Chromium whose fake
// microphone plays a tone (visitor 440 Hz, Alice 1000 Hz, Bob 1500 Hz); each side
// proves it hears the other by the dominant frequency of its remote stream.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEMO_USERS } from './lib/server.mjs';
import { addWidget, loginAgent, loginAvailable, until, waitForText, widget } from './lib/browser.mjs';
import { pageForTest, serverForTest } from './lib/hooks.mjs';
import { launchMediaBrowser, toneFile, waitForTone, waitForVideo } from './lib/media.mjs';
import {
  VISITOR_HEARS, VISITOR_VIDEO, acceptCall, agentHears, agentSees, openCallWindow, waitForCallState,
} from './lib/calls.mjs';

const TONE = { visitor: 440, alice: 1000, bob: 1500 };
const browsers = {};

before(async () => {
  for (const [who, hz] of Object.entries(TONE)) browsers[who] = await launchMediaBrowser({ wav: toneFile(hz) });
});

after(async () => {
  for (const b of Object.values(browsers)) await b?.close();
});

/** An agent signed in and available, in that agent's own browser. */
async function agent(t, server, name) {
  const side = await pageForTest(t, browsers[name]);
  await loginAvailable(side.page, server.agentUrl, name, DEMO_USERS[name]);
  return side;
}

/** The visitor on the demo shop's home page. */
async function visitor(t, server, browser = browsers.visitor) {
  const side = await pageForTest(t, browser);
  await side.page.goto(`${server.publicUrl}/demo/`);
  return side;
}

/**
 * Alice available, the visitor calls `link` from the demo shop, Alice accepts:
 * resolves once both sides show the call connected.
 */
async function connectedCall(t, server, { link = 'sales', media = 'voice' } = {}) {
  const alice = await agent(t, server, 'alice');
  const v = await visitor(t, server);
  const popup = await openCallWindow(v.page, link, media);
  if (link === 'support') {
    // Support records its calls: the visitor is told before the call is placed.
    await popup.getByTestId('sb-recording-notice').waitFor();
    await popup.getByTestId('sb-recording-continue').click();
  }
  const contact = await acceptCall(alice.page, { media });
  await waitForCallState(popup, 'connected');
  return { alice, visitor: v, popup, contact };
}

/** Both parties hear each other's tone. */
async function bothHear({ popup, alice, contact }) {
  await waitForTone(popup, VISITOR_HEARS, TONE.alice, { label: 'the visitor' });
  await waitForTone(alice.page, agentHears(contact), TONE.visitor, { label: 'Alice' });
}

function noErrors(...sides) {
  for (const s of sides) assert.deepEqual(s.problems?.errors ?? s.problems, []);
}

test('voice call: the visitor calls from the widget, the agent answers, each hears the other', async (t) => {
  const server = await serverForTest(t);
  const call = await connectedCall(t, server);
  const { alice, popup } = call;
  const sales = widget(call.visitor.page, 'sales');

  // The panel on the merchant page knows a call is on, in the call window.
  await waitForText(sales.getByTestId('sb-call-status'), /call in progress/i);
  await bothHear(call);
  await waitForText(popup.getByTestId('sb-call-state'), /connected to alice/i);
  await until(async () => (await popup.getByTestId('sb-call-timer').textContent()) !== '00:00', {
    message: 'the call timer to run',
  });
  assert.match(await alice.page.getByTestId('contact-media').textContent(), /voice/i);

  // The visitor hangs up; Alice wraps up as after a chat.
  await popup.getByTestId('sb-hangup').click();
  await waitForCallState(popup, 'ended');
  await waitForText(alice.page.getByTestId('call-state'), /ended/i);
  await alice.page.locator('[data-testid^="remote-audio-"]').waitFor({ state: 'detached' });
  await alice.page.getByTestId('wrapup-code').selectOption('resolved');
  await alice.page.getByTestId('wrapup-submit').click();
  await alice.page.getByTestId('wrapup').waitFor({ state: 'hidden' });
  await sales.getByTestId('sb-callbar').waitFor({ state: 'hidden' });
  noErrors(alice, call.visitor, popup);
});

test('video call: frames are decoded on both sides, and audio flows', async (t) => {
  const server = await serverForTest(t);
  const call = await connectedCall(t, server, { media: 'video' });
  await waitForVideo(call.popup, VISITOR_VIDEO);
  await waitForVideo(call.alice.page, agentSees(call.contact));
  await bothHear(call);
  await call.alice.page.getByTestId('call-hangup').click();
  await waitForCallState(call.popup, 'ended');
  noErrors(call.alice, call.visitor, call.popup);
});

test('hold: the visitor stops hearing the agent and hears a hold tone until Resume', async (t) => {
  const server = await serverForTest(t);
  const { alice, visitor: v, popup, contact } = await connectedCall(t, server, { link: 'support' });
  await alice.page.getByTestId('call-recording').waitFor();
  await popup.getByTestId('sb-recording-badge').waitFor();
  await bothHear({ popup, alice, contact });

  await alice.page.getByTestId('call-hold').click();
  await waitForCallState(popup, 'on_hold');
  await popup.getByTestId('sb-hold').waitFor();
  await popup.locator('[data-testid="sb-call"][data-hold-tone="on"]').waitFor();
  await waitForTone(popup, VISITOR_HEARS, TONE.alice, { present: false, samples: 5, label: 'the visitor on hold' });
  await waitForText(alice.page.getByTestId('call-hold'), 'Resume');

  await alice.page.getByTestId('call-hold').click();
  await waitForCallState(popup, 'connected');
  await popup.locator('[data-testid="sb-call"][data-hold-tone="off"]').waitFor();
  await waitForTone(popup, VISITOR_HEARS, TONE.alice, { label: 'the visitor after Resume' });
  await waitForTone(alice.page, agentHears(contact), TONE.visitor, { label: 'Alice after Resume' });
  noErrors(alice, v, popup);
});

test('blind transfer: the second agent gets the screen pop and the call; the first lets go', async (t) => {
  const server = await serverForTest(t);
  // Support: Alice and Bob both serve it. Bob signs in once Alice has the call.
  const call = await connectedCall(t, server, { link: 'support' });
  const bob = await agent(t, server, 'bob');
  await bothHear(call);

  const { alice, popup } = call;
  await alice.page.getByTestId('call-transfer-target').selectOption('agent:bob');
  await alice.page.getByTestId('call-transfer').click();
  // Blind: the contact leaves Alice's console at once.
  await waitForText(alice.page.getByTestId('notice'), /transferred to bob/i);
  await alice.page.getByTestId('contact-tab').waitFor({ state: 'detached' });
  await alice.page.locator('[data-testid^="remote-audio-"]').waitFor({ state: 'detached' });

  // Bob is offered the call with the screen pop (the page the visitor is on), and takes it.
  const offer = bob.page.getByTestId('offer');
  await waitForText(offer.getByTestId('page-url'), `${server.publicUrl}/demo/`);
  const contact = await acceptCall(bob.page);
  assert.equal(contact, call.contact, 'the same contact moves to Bob');
  await waitForText(bob.page.locator('#active-pop').getByTestId('page-url'), `${server.publicUrl}/demo/`);
  await waitForCallState(popup, 'connected');
  await waitForText(popup.getByTestId('sb-call-state'), /connected to bob/i);
  await waitForTone(popup, VISITOR_HEARS, TONE.bob, { label: 'the visitor after the transfer' });
  await waitForTone(bob.page, agentHears(contact), TONE.visitor, { label: 'Bob' });
  noErrors(alice, bob, call.visitor, popup);
});

test('the merchant page navigates during the call; the call window keeps the call', async (t) => {
  const server = await serverForTest(t);
  const call = await connectedCall(t, server);
  await bothHear(call);
  const page = call.visitor.page;
  await page.getByRole('navigation', { name: 'Shop' }).getByRole('link', { name: 'Products' }).click();
  await page.waitForURL(/products\.html$/);
  // The new page's widget shows the call in progress and can bring the window back.
  const sales = widget(page, 'sales');
  await waitForText(sales.getByTestId('sb-call-status'), /call in progress/i);
  // "Show call window" finds the window this page did not open (by its name).
  await sales.getByTestId('sb-call-focus').click();
  assert.doesNotMatch(await sales.getByTestId('sb-state').textContent(), /closed/i);
  assert.equal(call.popup.isClosed(), false);
  await waitForCallState(call.popup, 'connected');
  // Wait for fresh audio: the analyser keeps nothing from before the navigation.
  await waitForTone(call.popup, VISITOR_HEARS, TONE.alice, { samples: 10, label: 'the visitor after navigating' });
  await waitForTone(call.alice.page, agentHears(call.contact), TONE.visitor, { label: 'Alice after the navigation' });
  // The agent's screen pop follows the visitor to the products page.
  await waitForText(call.alice.page.locator('#active-pop'), 'products.html');
  noErrors(call.alice, call.visitor, call.popup);
});

test('microphone permission denied: the call window offers chat or a call back', async (t) => {
  const server = await serverForTest(t);
  const denied = await launchMediaBrowser({ fakeUi: false });
  t.after(() => denied.close());
  const v = await visitor(t, server, denied);

  let popup = await openCallWindow(v.page, 'sales', 'voice');
  await waitForText(popup.getByTestId('sb-fallback-text'), /permission was denied/i);
  // Chat instead: the call window closes and the panel is ready for a message.
  // The window may close before Playwright's click call returns: that close
  // is the outcome we wait for, not a failure.
  const clicked = popup
    .getByTestId('sb-chat-instead')
    .click({ noWaitAfter: true })
    .catch((e) => {
      if (!/closed/i.test(String(e?.message))) throw e;
    });
  await Promise.all([popup.waitForEvent('close'), clicked]);
  const sales = widget(v.page, 'sales');
  await waitForText(sales.getByTestId('sb-chat-log'), /start a chat/i);
  await sales.getByTestId('sb-call-voice').waitFor();

  // Or a call back to a phone number.
  popup = await openCallWindow(v.page, 'sales', 'voice');
  await waitForText(popup.getByTestId('sb-fallback-text'), /permission was denied/i);
  await popup.getByTestId('sb-callback-phone').fill('+1 555 010 2030');
  await popup.getByTestId('sb-callback-submit').click();
  await waitForText(popup.getByTestId('sb-callback-result'), /we will call you back/i);
  noErrors(v, popup);
});

test('a video call without the entitlement is refused with the reason, in the window and the panel', async (t) => {
  const server = await serverForTest(t);
  await agent(t, server, 'alice');
  // A page of the shop's origin whose widget carries no signed identity: video
  // is for gold customers only (demo media rule).
  const v = await pageForTest(t, browsers.visitor);
  await v.page.goto(`${server.publicUrl}/healthz`);
  await addWidget(v.page, 'demo', 'sales');
  const popup = await openCallWindow(v.page, 'sales', 'video');
  await waitForCallState(popup, 'fallback');
  await waitForText(popup.getByTestId('sb-fallback-text'), /gold customers/i);
  const sales = widget(v.page, 'sales');
  await waitForText(sales.getByTestId('sb-state'), /gold customers/i);
  await sales.getByTestId('sb-callbar').waitFor({ state: 'hidden' });
  noErrors(v, popup);
});

test('remote media control: the agent asks, the visitor allows, the agent sees what was applied', async (t) => {
  const server = await serverForTest(t);
  const call = await connectedCall(t, server);
  const { alice, popup } = call;
  await bothHear(call);

  const panel = alice.page.getByTestId('media-control');
  await panel.getByTestId('mc-echo-cancellation').uncheck();
  await panel.getByTestId('mc-speaker-volume').evaluate((input) => {
    input.value = '0.5';
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await panel.getByTestId('mc-send').click();

  const consent = popup.getByTestId('sb-media-consent');
  await waitForText(consent, /echo cancellation: off/i);
  await waitForText(consent, /speaker volume: 50%/i);
  await popup.getByTestId('sb-media-allow').click();
  await consent.waitFor({ state: 'hidden' });

  await waitForText(panel.getByTestId('mc-result'), /allowed: .*echo cancellation off.*speaker volume 50%/i);
  const applied = await popup.evaluate(() => ({
    volume: document.querySelector('[data-testid="sb-remote-audio"]').volume,
    slider: document.querySelector('[data-testid="sb-volume"]').value,
  }));
  assert.equal(applied.volume, 0.5);
  assert.equal(applied.slider, '0.5');
  // The call goes on with the new settings (the visitor's microphone was
  // reopened without echo cancellation behind the same sent track).
  await waitForTone(popup, VISITOR_HEARS, TONE.alice, { label: 'the visitor after the change' });
  await waitForTone(alice.page, agentHears(call.contact), TONE.visitor, { samples: 10, label: 'Alice after the change' });

  // Mic gain runs through a GainNode in front of the sent track: at 0 Alice hears nothing.
  await panel.getByTestId('mc-mic-gain').evaluate((input) => {
    input.value = '0';
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await panel.getByTestId('mc-send').click();
  await waitForText(consent, /microphone volume: 0%/i);
  await popup.getByTestId('sb-media-allow').click();
  await waitForText(panel.getByTestId('mc-result'), /allowed: mic gain 0%/i);
  await waitForTone(alice.page, agentHears(call.contact), TONE.visitor, { present: false, samples: 5, label: 'Alice with the mic gain at 0' });
  noErrors(alice, call.visitor, popup);
});

test('a supervisor listens in on both parties and stops', async (t) => {
  const server = await serverForTest(t);
  const call = await connectedCall(t, server);
  await bothHear(call);
  const sam = await pageForTest(t, browsers.bob);
  await loginAgent(sam.page, server.agentUrl, 'sam', DEMO_USERS.sam);
  await sam.page.goto(`${server.agentUrl}/supervisor/`);
  const listen = sam.page.locator(`[data-testid="call-listen"][data-contact="${call.contact}"]`);
  await listen.click();
  await waitForText(listen, 'Stop');
  await waitForTone(sam.page, `[data-testid="listen-audio-visitor-${call.contact}"]`, TONE.visitor, { label: 'Sam (visitor side)' });
  await waitForTone(sam.page, `[data-testid="listen-audio-agent-${call.contact}"]`, TONE.alice, { label: 'Sam (agent side)' });
  await listen.click();
  await waitForText(listen, 'Listen');
  await sam.page.locator(`[data-testid="listen-audio-visitor-${call.contact}"]`).waitFor({ state: 'detached' });
  // Listening in changed nothing for the parties.
  await bothHear(call);
  noErrors(sam, call.alice, call.visitor, call.popup);
});
