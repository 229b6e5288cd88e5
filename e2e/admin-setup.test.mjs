// The admin page's setup: an admin adds a queue and a link to the tenant file
// shown on the page, saves, sees the change in the audit log and the link in
// the links table; a change `tenant apply` would refuse shows its message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from './lib/server.mjs';
import { loginAgent, openPage, until, waitForText } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

const fixture = sharedServerAndBrowser();

const RETURNS = '\n[[queues]]\nname = "returns"\nskill = "returns"\n\n[[links]]\nslug = "returns"\nname = "Returns"\nqueue = "returns"\n';

test('an admin adds a queue in the setup and sees it in the audit log', async () => {
  const { server, browser } = fixture;
  const ada = await openPage(browser);
  await loginAgent(ada.page, server.agentUrl, 'ada', DEMO_USERS.ada);
  await ada.page.goto(`${server.agentUrl}/admin/`);
  const setup = ada.page.getByTestId('setup-toml');
  await until(async () => (await setup.inputValue()).includes('slug = "demo"'), { message: 'the setup loaded' });
  const original = await setup.inputValue();
  assert.ok(!original.includes('widget_secret'), 'the widget secret is not on the page');

  // Refused as `tenant apply` refuses it, with its message.
  await setup.fill(`${original}\n[[links]]\nslug = "lost"\nname = "Lost"\nqueue = "nowhere"\n`);
  await ada.page.getByTestId('setup-save').click();
  await waitForText(ada.page.getByTestId('setup-error'), /links\.queue "nowhere" is not one of the \[\[queues\]\]/);

  await setup.fill(original + RETURNS);
  await ada.page.getByTestId('setup-save').click();
  await waitForText(ada.page.getByTestId('setup-status'), 'Saved.');
  assert.equal(await ada.page.getByTestId('setup-error').isHidden(), true);

  const audit = ada.page.getByTestId('audit-log');
  const entry = audit.locator('tbody tr').first();
  await waitForText(entry, /ada/);
  await entry.locator('summary').click();
  await waitForText(entry.locator('pre'), /\+ name = "returns"/);

  await ada.page.locator('#refresh-links').click();
  await waitForText(ada.page.getByTestId('links'), /returns/);
  await ada.page.screenshot({ path: 'test-results/admin-setup.png', fullPage: true });
  assert.deepEqual(ada.problems.errors, []);
  await ada.context.close();
});

test('an agent sees neither the setup nor the audit log', async () => {
  const { server, browser } = fixture;
  const alice = await openPage(browser);
  await loginAgent(alice.page, server.agentUrl, 'alice', DEMO_USERS.alice);
  await alice.page.goto(`${server.agentUrl}/admin/`);
  await waitForText(alice.page.getByTestId('links'), /sales/);
  assert.equal(await alice.page.locator('#setup-card').isHidden(), true);
  assert.equal(await alice.page.locator('#audit-card').isHidden(), true);
  await alice.context.close();
});
