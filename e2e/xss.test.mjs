// Markup in chat messages (and in a page title) is shown as text on both sides and
// never runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from './lib/server.mjs';
import { loginAvailable, openPage, waitForText, widget } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

const IMG = '<img src=x onerror="window.__sbXss=1">';
const SCRIPT = '<script>window.__sbXss=2</script>';
const TITLE = '<img src=x onerror="window.__sbXss=3"> shop';

const fixture = sharedServerAndBrowser();

const count = (text, needle) => text.split(needle).length - 1;

test('chat text and page titles are never interpreted as markup', async () => {
  const { server, browser } = fixture;
  const visitorSide = await openPage(browser);
  const agentSide = await openPage(browser);
  const visitor = visitorSide.page;
  const agent = agentSide.page;

  // A hostile page title (merchant pages are not ours to trust): the widget reports
  // it in the page context and it reaches the agent's screen pop.
  await visitor.addInitScript((title) => {
    Object.defineProperty(Document.prototype, 'title', { get: () => title, configurable: true });
  }, TITLE);
  await visitor.goto(`${server.publicUrl}/demo/`);
  assert.equal(await visitor.evaluate(() => document.title), TITLE);

  const sales = widget(visitor, 'sales');
  const visitorLog = sales.getByTestId('sb-chat-log');
  await sales.getByTestId('sb-launcher').click();
  await sales.getByTestId('sb-chat-input').fill(IMG);
  await sales.getByTestId('sb-chat-send').click();
  await waitForText(sales.getByTestId('sb-state'), /waiting/i);
  await sales.getByTestId('sb-chat-input').fill(SCRIPT);
  await sales.getByTestId('sb-chat-send').click();
  await waitForText(visitorLog, SCRIPT);

  await loginAvailable(agent, server.agentUrl, 'alice', DEMO_USERS.alice);
  const offer = agent.getByTestId('offer');
  await offer.getByTestId('offer-accept').click();
  const agentLog = agent.getByTestId('chat-log');
  await waitForText(agentLog, IMG);
  await waitForText(agentLog, SCRIPT);
  await waitForText(agent.locator('aside').getByTestId('screenpop'), TITLE);

  for (const text of [IMG, SCRIPT]) {
    await agent.getByTestId('chat-input').fill(text);
    await agent.getByTestId('chat-send').click();
  }
  await waitForText(visitorLog, /(<script>window.__sbXss=2<\/script>)[^]*\1[^]*$/);
  const visitorText = await visitorLog.textContent();
  assert.equal(count(visitorText, IMG), 2, visitorText);
  assert.equal(count(visitorText, SCRIPT), 2, visitorText);
  const agentText = await waitForText(agentLog, /(<script>window.__sbXss=2<\/script>)[^]*\1/);
  assert.equal(count(agentText, IMG), 2, agentText);

  for (const page of [visitor, agent]) {
    assert.equal(await page.evaluate(() => window.__sbXss), undefined);
  }
  assert.equal(await visitorLog.locator('img, script').count(), 0);
  assert.equal(await agentLog.locator('img, script').count(), 0);
  assert.equal(await agent.locator('sb-screen-pop img').count(), 0);
  assert.deepEqual(visitorSide.problems.dialogs, []);
  assert.deepEqual(agentSide.problems.dialogs, []);
  assert.deepEqual(visitorSide.problems.errors, []);
  assert.deepEqual(agentSide.problems.errors, []);

  await visitorSide.context.close();
  await agentSide.context.close();
});
