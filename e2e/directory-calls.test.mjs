// Calls by number between members and voice/video mail (issue 16), in
// Chromium: Bob and Alice sign in on the directory page and see each other
// online; Bob calls Alice's number, she accepts and each hears the other's
// tone (Alice's fake microphone plays 1000 Hz, Bob's 1500 Hz); Alice signs
// out; Bob calls again and leaves a video message; Alice signs in, is told of
// it, plays it (its VP8 frames decoded, Bob's tone heard) and deletes it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEMO_USERS, startServer } from './lib/server.mjs';
import { loginAgent, openPage, until, waitForText } from './lib/browser.mjs';
import { launchMediaBrowser, toneFile, waitForTone } from './lib/media.mjs';

const TONE = { alice: 1000, bob: 1500 };
const ALICE_NUMBER = '2000 0000 0001';
/** How long Bob speaks his message: what is recorded, not a wait for the system. */
const MESSAGE_MS = 3000;
const shared = { server: null, browsers: {} };

before(async () => {
  shared.server = await startServer();
  for (const [who, hz] of Object.entries(TONE)) shared.browsers[who] = await launchMediaBrowser({ wav: toneFile(hz) });
});

after(async () => {
  for (const b of Object.values(shared.browsers)) await b?.close();
  await shared.server?.stop();
});

/** `who` signed in on the directory page in their own browser. */
async function member(who) {
  const side = await openPage(shared.browsers[who]);
  await loginAgent(side.page, shared.server.agentUrl, who, DEMO_USERS[who]);
  await side.page.goto(`${shared.server.agentUrl}/directory/`);
  return side;
}

const mark = (page, name) => page.locator(`tr[data-name="${name}"] [data-status]`);
const panel = (page) => page.getByTestId('member-call');
const callState = (page, state) => until(
  async () => (await panel(page).getAttribute('data-state')) === state,
  { message: `the call panel to be ${state}` },
);

test('members call by number, then a video message is left, played and deleted', async () => {
  let alice = await member('alice');
  const bob = await member('bob');
  await waitForText(mark(bob.page, 'alice'), 'online');
  await waitForText(mark(alice.page, 'bob'), 'online');

  // Bob calls Alice's number; her page rings and she accepts.
  await bob.page.getByTestId('call-alice').click();
  await waitForText(alice.page.getByTestId('call-status'), /Incoming call from Bob/);
  await alice.page.getByTestId('call-accept').click();
  await callState(alice.page, 'connected');
  await callState(bob.page, 'connected');
  await waitForTone(bob.page, '[data-testid="call-remote-audio"]', TONE.alice, { label: 'Bob' });
  await waitForTone(alice.page, '[data-testid="call-remote-audio"]', TONE.bob, { label: 'Alice' });
  // On the call, both show busy.
  await waitForText(mark(bob.page, 'alice'), 'busy');
  await bob.page.getByTestId('call-hangup').click();
  await waitForText(alice.page.getByTestId('call-status'), 'Call ended.');

  // Alice signs out; Bob's next call goes to her mailbox.
  await alice.page.evaluate(() => import('/common/api.js').then(({ api }) => api('/api/v1/logout', { method: 'POST' })));
  await alice.context.close();
  await bob.page.getByTestId('call-alice').click();
  await callState(bob.page, 'mailbox');
  await waitForText(bob.page.getByTestId('call-status'), /Leave a message after the tone/);
  await new Promise((r) => setTimeout(r, MESSAGE_MS));
  await bob.page.getByTestId('call-hangup').click();
  await waitForText(bob.page.getByTestId('call-status'), 'Your message was left.');

  // Alice signs in again: told of the message, she plays it and deletes it.
  alice = await member('alice');
  await waitForText(alice.page.getByTestId('mailbox-notice'), 'You have 1 new message.');
  const item = alice.page.getByTestId('mailbox-list').locator('li').first();
  await waitForText(item, /Video message from Bob \(2000 0000 0002\)/);
  const id = await item.getAttribute('data-message');
  await alice.page.getByTestId(`mail-play-${id}`).click();
  await until(async () => Number(await alice.page.getByTestId('mail-video').getAttribute('data-frames')) >= 10, {
    message: 'the message video to decode frames',
  });
  // The probe listens to what the player plays.
  await alice.page.evaluate(() => {
    const probe = document.createElement('audio');
    probe.dataset.testid = 'mail-probe';
    probe.srcObject = document.querySelector('[data-testid="mail-audio"]').captureStream();
    document.body.append(probe);
  });
  await waitForTone(alice.page, '[data-testid="mail-probe"]', TONE.bob, { label: 'Alice playing the message' });
  await alice.page.getByTestId(`mail-delete-${id}`).click();
  await waitForText(alice.page.getByTestId('mailbox-notice'), 'Your mailbox is empty.');

  assert.deepEqual(alice.problems.errors, []);
  assert.deepEqual(bob.problems.errors, []);
  await alice.context.close();
  await bob.context.close();
});
