// The directory page: members with numbers and a live presence mark, pushed
// by server-sent events (no reload), and search by name or number.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from './lib/server.mjs';
import { loginAgent, openPage, until, waitForText } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

const fixture = sharedServerAndBrowser();

const mark = (page, name) => page.locator(`tr[data-name="${name}"] [data-status]`);

test('a member opening the directory shows online to others, live', async () => {
  const { server, browser } = fixture;
  const bob = await openPage(browser);
  await loginAgent(bob.page, server.agentUrl, 'bob', DEMO_USERS.bob);
  await bob.page.goto(`${server.agentUrl}/directory/`);
  const members = bob.page.getByTestId('directory-members');
  await waitForText(members, /Dana Demo/);
  await waitForText(members.locator('tr[data-name="alice"]'), /2000 0000 0001/);
  await waitForText(mark(bob.page, 'alice'), 'offline');
  await waitForText(mark(bob.page, 'bob'), 'online');

  // Alice signs in and opens the directory: her heartbeat reaches bob's view.
  const alice = await openPage(browser);
  await loginAgent(alice.page, server.agentUrl, 'alice', DEMO_USERS.alice);
  await alice.page.goto(`${server.agentUrl}/directory/`);
  await waitForText(mark(bob.page, 'alice'), 'online', { timeout: 3000 });
  await alice.page.getByTestId('my-status').selectOption('away');
  await waitForText(mark(bob.page, 'alice'), 'away', { timeout: 3000 });
  await alice.page.getByTestId('my-status').selectOption('offline');
  await waitForText(mark(bob.page, 'alice'), 'offline', { timeout: 3000 });

  // Search by a number as people write it.
  await bob.page.getByTestId('directory-search').fill('2000 0000 0003');
  await until(async () => (await members.locator('tbody tr').count()) === 1, { message: 'one member found' });
  await waitForText(members, /Dana Demo/);
  assert.deepEqual(bob.problems.errors, []);
  assert.deepEqual(alice.problems.errors, []);
  await alice.context.close();
  await bob.context.close();
});
