// A web callback reaches an agent's console at its turn: the card shows the
// number to dial; "No answer" sends it back for a retry, "Connected" opens the
// contact like a chat, which the agent ends and wraps up. The "Callbacks" card
// lists the agent's queues' callbacks; "Take now" brings a scheduled one at
// once, its screen pop topped by the whisper line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from './lib/server.mjs';
import { loginAvailable, openPage, waitForText } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

const fixture = sharedServerAndBrowser();

/** Asks for a call back over a visitor socket opened from the demo page;
 * `later` books the third slot offered instead of as soon as possible. */
async function requestCallback(page, phone, { later = false, reason } = {}) {
  return page.evaluate(
    ({ number, later, reason }) =>
      new Promise((resolve, reject) => {
        const url = `${location.origin.replace('http', 'ws')}/ws/visitor?tenant=demo&link=support`;
        const ws = new WebSocket(url);
        const ask = (extra) => ws.send(JSON.stringify({ v: 1, type: 'callback', phone: number, reason, ...extra }));
        ws.onopen = () => ws.send(JSON.stringify({ v: 1, type: 'hello', context: { url: location.href } }));
        ws.onmessage = (e) => {
          const f = JSON.parse(e.data);
          if (f.type === 'welcome') {
            if (later) ws.send(JSON.stringify({ v: 1, type: 'callback_slots' }));
            else ask({});
          }
          if (f.type === 'callback_slots') ask({ at: f.slots[2] });
          if (f.type === 'callback_scheduled') resolve(f);
          if (f.type === 'error') reject(new Error(f.message));
        };
        setTimeout(() => reject(new Error('no callback_scheduled')), 10000);
      }),
    { number: phone, later, reason },
  );
}

/** The customer answered: "Connected", then the agent ends and wraps up. */
async function connectAndWrapUp(page, card) {
  await card.getByTestId('callback-connected').click();
  await card.waitFor({ state: 'detached' });
  await page.getByTestId('end').click();
  await page.getByTestId('wrapup-code').selectOption('resolved');
  await page.getByTestId('wrapup-submit').click();
  await page.getByTestId('wrapup').waitFor({ state: 'hidden' });
}

test('an agent dials a web callback and reports how it went', async () => {
  const { server, browser } = fixture;
  const visitor = await openPage(browser);
  await visitor.page.goto(`${server.publicUrl}/demo/`);
  const scheduled = await requestCallback(visitor.page, '+1 (555) 123-4567');
  assert.ok(scheduled.at > 0);

  const { page, problems, context } = await openPage(browser);
  await loginAvailable(page, server.agentUrl, 'bob', DEMO_USERS.bob);
  const card = page.getByTestId('callback-card');
  await waitForText(card.getByTestId('callback-phone'), '+15551234567');
  assert.equal(await card.getByTestId('callback-phone').getAttribute('href'), 'tel:+15551234567');
  await waitForText(card.getByTestId('callback-attempt'), /Attempt 1/);
  await card.getByTestId('callback-failed').click();
  await card.waitFor({ state: 'detached' });

  // A second request: this time the customer answers.
  await requestCallback(visitor.page, '+44 20 7946 0000');
  await waitForText(card.getByTestId('callback-phone'), '+442079460000');
  await connectAndWrapUp(page, card);

  assert.deepEqual(problems.errors, []);
  await context.close();
  await visitor.context.close();
});

test('an agent takes a scheduled callback now and reads its whisper line', async () => {
  const { server, browser } = fixture;
  const visitor = await openPage(browser);
  await visitor.page.goto(`${server.publicUrl}/demo/`);
  const scheduled = await requestCallback(visitor.page, '+1 (555) 987-6543', {
    later: true,
    reason: 'question about order 5531',
  });
  assert.ok(scheduled.at > Date.now(), 'booked for later');

  const { page, problems, context } = await openPage(browser);
  await loginAvailable(page, server.agentUrl, 'bob', DEMO_USERS.bob);
  const row = page.getByTestId('callback-list').getByTestId('callback-row').filter({ hasText: 'order 5531' });
  await waitForText(row.getByTestId('callback-row-status'), 'Scheduled');
  const masked = await row.getByTestId('callback-row-phone').textContent();
  assert.ok(masked.endsWith('43') && !masked.includes('9876543'), masked);
  await row.getByTestId('callback-take').click();

  const card = page.getByTestId('callback-card');
  await waitForText(card.getByTestId('callback-phone'), '+15559876543');
  await waitForText(card.getByTestId('callback-whisper'), /^Callback for \+15 •+43: question about order 5531$/);
  await connectAndWrapUp(page, card);

  assert.deepEqual(problems.errors, []);
  await context.close();
  await visitor.context.close();
});
