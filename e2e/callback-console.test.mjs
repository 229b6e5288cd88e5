// A web callback reaches an agent's console at its turn: the card shows the
// number to dial; "No answer" sends it back for a retry, "Connected" opens the
// contact like a chat, which the agent ends and wraps up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from './lib/server.mjs';
import { loginAvailable, openPage, waitForText } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

const fixture = sharedServerAndBrowser();

/** Asks for a call back over a visitor socket opened from the demo page. */
async function requestCallback(page, phone) {
  return page.evaluate(
    (number) =>
      new Promise((resolve, reject) => {
        const url = `${location.origin.replace('http', 'ws')}/ws/visitor?tenant=demo&link=support`;
        const ws = new WebSocket(url);
        ws.onopen = () => ws.send(JSON.stringify({ v: 1, type: 'hello', context: { url: location.href } }));
        ws.onmessage = (e) => {
          const f = JSON.parse(e.data);
          if (f.type === 'welcome') ws.send(JSON.stringify({ v: 1, type: 'callback', phone: number }));
          if (f.type === 'callback_scheduled') resolve(f);
          if (f.type === 'error') reject(new Error(f.message));
        };
        setTimeout(() => reject(new Error('no callback_scheduled')), 10000);
      }),
    phone,
  );
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
  await card.getByTestId('callback-connected').click();
  await card.waitFor({ state: 'detached' });
  await page.getByTestId('end').click();
  await page.getByTestId('wrapup-code').selectOption('resolved');
  await page.getByTestId('wrapup-submit').click();
  await page.getByTestId('wrapup').waitFor({ state: 'hidden' });

  assert.deepEqual(problems.errors, []);
  await context.close();
  await visitor.context.close();
});
