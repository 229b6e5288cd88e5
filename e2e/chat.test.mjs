// A visitor chats with an agent from the demo shop: screen pop, messages both ways,
// typing indicator, resume after reload, end, wrap-up and the stored contact record.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from './lib/server.mjs';
import { loginAvailable, openPage, until, waitForText, widget } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

const fixture = sharedServerAndBrowser();

test('visitor and agent chat from offer to wrap-up', async () => {
  const { server, browser } = fixture;
  const pub = server.publicUrl;
  const home = `${pub}/demo/`;
  const visitorSide = await openPage(browser);
  const agentSide = await openPage(browser);
  const visitor = visitorSide.page;
  const agent = agentSide.page;

  // The visitor browses two pages of the shop, then asks sales a question.
  await visitor.goto(`${pub}/demo/products.html`);
  // An order number typed on the products page (a field the demo tenant
  // shares) goes with the chat started from the home page.
  await visitor.getByLabel('Order number, if you have one').fill('A-5150');
  await visitor.getByRole('navigation', { name: 'Shop' }).getByRole('link', { name: 'Home' }).click();
  await visitor.waitForURL(home);
  let sales = widget(visitor, 'sales');
  await waitForText(sales.getByTestId('sb-wait'), /available|wait/i);
  await sales.getByTestId('sb-launcher').click();
  const question = 'Does the espresso machine come with a warranty?';
  await sales.getByTestId('sb-chat-input').fill(question);
  await sales.getByTestId('sb-chat-send').click();
  await waitForText(sales.getByTestId('sb-chat-log'), question);
  await waitForText(sales.getByTestId('sb-state'), /waiting/i);

  // Alice signs in, becomes available and gets the offer with the screen pop.
  await loginAvailable(agent, server.agentUrl, 'alice', DEMO_USERS.alice);
  const offer = agent.getByTestId('offer');
  await offer.waitFor();
  const pop = offer.getByTestId('screenpop');
  await waitForText(pop, 'Dana Demo');
  assert.equal((await pop.getByTestId('identity-badge').textContent()).trim(), 'Verified');
  assert.equal((await pop.getByTestId('page-url').textContent()).trim(), home);
  const visited = await pop.getByTestId('pages-visited').textContent();
  assert.ok(visited.includes('Products'), `pages visited lists the products page: ${visited}`);
  assert.ok(visited.includes('Demo shop'), `pages visited lists the home page: ${visited}`);
  await waitForText(pop, 'T-42'); // CRM record with the open ticket
  const shared = pop.getByTestId('shared-values');
  await waitForText(shared, 'A-5150');
  await waitForText(shared, 'demo-cart-3'); // the "cart" cookie the products page set
  await waitForText(offer.getByTestId('offer-countdown'), /\d+ s/);

  await offer.getByTestId('offer-accept').click();
  await offer.waitFor({ state: 'hidden' });
  const agentLog = agent.getByTestId('chat-log');
  await waitForText(agentLog, question);
  await waitForText(sales.getByTestId('sb-state'), /connected to alice/i);

  // Messages both ways.
  const answer = 'Yes, two years on parts and labour.';
  await agent.getByTestId('chat-input').fill(answer);
  await agent.getByTestId('chat-send').click();
  await waitForText(sales.getByTestId('sb-chat-log'), answer);

  // The agent sees the visitor typing, then the message (sent with Enter).
  const followUp = 'Great, and does it ship to Austria?';
  const typing = agent.getByTestId('typing');
  await Promise.all([
    sales.getByTestId('sb-chat-input').pressSequentially(followUp, { delay: 40 }),
    typing.waitFor({ state: 'visible' }),
  ]);
  await sales.getByTestId('sb-chat-input').press('Enter');
  await waitForText(agentLog, followUp);
  await typing.waitFor({ state: 'hidden' });

  // The visitor reloads: the conversation comes back and still works.
  await visitor.reload();
  sales = widget(visitor, 'sales');
  const visitorLog = sales.getByTestId('sb-chat-log');
  await waitForText(visitorLog, question);
  await waitForText(visitorLog, answer);
  await waitForText(visitorLog, followUp);
  await waitForText(sales.getByTestId('sb-state'), /connected/i);

  const afterReload = 'Still there after the reload?';
  await sales.getByTestId('sb-chat-input').fill(afterReload);
  await sales.getByTestId('sb-chat-input').press('Enter');
  await waitForText(agentLog, afterReload);
  const reply = 'Yes, and it ships to Austria in 3 days.';
  await agent.getByTestId('chat-input').fill(reply);
  await agent.getByTestId('chat-input').press('Enter');
  await waitForText(visitorLog, reply);

  // The agent ends the chat and wraps it up.
  await agent.getByTestId('end').click();
  await waitForText(sales.getByTestId('sb-state'), /ended/i);
  await agent.getByTestId('wrapup-code').selectOption('resolved');
  await agent.getByTestId('wrapup-submit').click();
  await agent.getByTestId('wrapup').waitFor({ state: 'hidden' });

  // The stored contact record.
  const contact = await until(
    async () => {
      const res = await agent.context().request.get(`${server.agentUrl}/api/v1/contacts`);
      assert.equal(res.status(), 200);
      const { contacts } = await res.json();
      return contacts.find((c) => c.page_url === home && c.outcome === 'answered' && c.wrapup_code === 'resolved');
    },
    { message: 'the answered, wrapped-up contact in /api/v1/contacts' },
  );
  assert.equal(contact.agent, 'alice');
  assert.equal(contact.link, 'sales');
  assert.equal(contact.verified, true);

  assert.deepEqual(visitorSide.problems, { errors: [], dialogs: [] });
  assert.deepEqual(agentSide.problems, { errors: [], dialogs: [] });
  await visitorSide.context.close();
  await agentSide.context.close();
});
