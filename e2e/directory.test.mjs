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
  await alice.page.getByTestId('my-status').selectOption('busy');
  await waitForText(mark(bob.page, 'alice'), 'busy', { timeout: 3000 });

  // Search by a number as people write it.
  await bob.page.getByTestId('directory-search').fill('2000 0000 0003');
  await until(async () => (await members.locator('tbody tr').count()) === 1, { message: 'one member found' });
  await waitForText(members, /Dana Demo/);
  assert.deepEqual(bob.problems.errors, []);
  assert.deepEqual(alice.problems.errors, []);
  await alice.context.close();
  await bob.context.close();
});

test('an admin enrols a member with a vanity number and moves it', async () => {
  const { server, browser } = fixture;
  const ada = await openPage(browser);
  await loginAgent(ada.page, server.agentUrl, 'ada', DEMO_USERS.ada);
  await ada.page.goto(`${server.agentUrl}/directory/`);
  await ada.page.getByTestId('enrol-name').fill('erin');
  await ada.page.getByTestId('enrol-display').fill('Erin Example');
  await ada.page.getByTestId('enrol-vanity').fill('5555 6666 7777');
  await ada.page.getByTestId('enrol-form').getByRole('button', { name: 'Enrol' }).click();
  await waitForText(ada.page.getByTestId('admin-result'), 'Erin Example enrolled with number 5555 6666 7777.');
  const members = ada.page.getByTestId('directory-members');
  await waitForText(members.locator('tr[data-name="erin"]'), /5555 6666 7777/);
  // The same number again: the server's reason is shown.
  await ada.page.getByTestId('enrol-name').fill('fred');
  await ada.page.getByTestId('enrol-vanity').fill('555566667777');
  await ada.page.getByTestId('enrol-form').getByRole('button', { name: 'Enrol' }).click();
  await waitForText(ada.page.getByTestId('admin-result'), /not available/);
  await ada.page.getByTestId('move-number').fill('5555 6666 7777');
  await ada.page.getByTestId('move-to').fill('dana');
  await ada.page.getByTestId('move-form').getByRole('button', { name: 'Move' }).click();
  await waitForText(ada.page.getByTestId('admin-result'), 'moved to dana');
  await waitForText(members.locator('tr[data-name="dana"]'), /5555 6666 7777/);
  assert.deepEqual(ada.problems.errors, []);
  await ada.context.close();
});
