// The supervisor live view and the admin page against a real server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from './lib/server.mjs';
import {
  loginAgent, loginAvailable, openPage, setAgentStatus, until, waitForText,
} from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

const fixture = sharedServerAndBrowser();

test('staff pages send a visitor without a session to sign-in', async () => {
  const { server, browser } = fixture;
  const { page, context } = await openPage(browser);
  for (const path of ['/supervisor/', '/admin/']) {
    await page.goto(`${server.agentUrl}${path}`);
    await page.waitForURL(`${server.agentUrl}/`);
    await page.getByTestId('login-user').waitFor();
  }
  await context.close();
});

test('a wrong password shows a clear error', async () => {
  const { server, browser } = fixture;
  const { page, context } = await openPage(browser);
  await page.goto(`${server.agentUrl}/`);
  await until(async () => (await page.getByTestId('login-tenant').inputValue()) === 'demo', {
    message: 'tenant prefilled from login-hint',
  });
  await page.getByTestId('login-user').fill('alice');
  await page.getByTestId('login-password').fill('not-her-password');
  await page.getByTestId('login-submit').click();
  await waitForText(page.getByTestId('login-error'), /wrong|too many/i);
  await context.close();
});

test('supervisor sees queues and agents, refreshed', async () => {
  const { server, browser } = fixture;
  // Alice is at her desk and available.
  const alice = await openPage(browser);
  await loginAvailable(alice.page, server.agentUrl, 'alice', DEMO_USERS.alice);

  const { page, problems, context } = await openPage(browser);
  await loginAgent(page, server.agentUrl, 'sam', DEMO_USERS.sam);
  await page.getByRole('link', { name: 'Supervisor' }).click();
  await page.waitForURL(`${server.agentUrl}/supervisor/`);
  const queues = page.getByTestId('live-queues');
  await waitForText(queues, /sales/i);
  await waitForText(queues, /support/i);
  const agents = page.getByTestId('live-agents');
  await waitForText(agents, /Alice/);
  await waitForText(agents.locator('tr[data-agent="alice"]'), /available/);

  // Routing transitions are pushed (server-sent events): state changes show up
  // without a reload, both ways, well inside the 10 s fallback poll.
  await setAgentStatus(alice.page, 'not_ready');
  await waitForText(agents.locator('tr[data-agent="alice"]'), /not ready/);
  await setAgentStatus(alice.page, 'available');
  await waitForText(agents.locator('tr[data-agent="alice"]'), /available/);
  await waitForText(page.getByTestId('live-updated'), /Updated/);
  assert.deepEqual(problems.errors, []);
  await context.close();
  await alice.context.close();
});

test('admin lists links and creates an API key that works', async () => {
  const { server, browser } = fixture;
  const { page, problems, context } = await openPage(browser);
  await loginAgent(page, server.agentUrl, 'ada', DEMO_USERS.ada);
  await page.goto(`${server.agentUrl}/admin/`);
  const links = page.getByTestId('links');
  for (const link of ['sales', 'support', 'billing']) await waitForText(links, link);

  await page.getByTestId('api-key-name').fill('e2e');
  await page.getByTestId('api-key-create').click();
  await page.getByTestId('api-key-result').waitFor();
  const key = await page.getByTestId('api-key-value').inputValue();
  assert.match(key, /^sbk_/);

  // The key alone (no cookie) reads the contact records.
  const res = await fetch(`${server.agentUrl}/api/v1/contacts`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  assert.equal(res.status, 200, await res.text());
  assert.deepEqual(problems.errors, []);
  await context.close();
});
