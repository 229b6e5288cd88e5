// The supervisor's wallboard in Chromium (issue 17): sam watches the demo
// center on /supervisor/ (pushed over /ws/supervisor, no polling). A visitor
// starts a chat on sales while nobody is available: the sales row shows one
// waiting, amber (the demo's sales limit is one), within a second of the
// visitor's message. Alice signs in and accepts: her row shows busy with the
// contact within a second of her click, and sales counts one answered today.
// On the way sam gives the waiting contact another priority and sets alice
// away from the board.
// Screenshots of the wallboard in both moments are saved under
// e2e/test-results/ for a person to look at.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DEMO_USERS, E2E_DIR } from './lib/server.mjs';
import { loginAgent, loginAvailable, openPage, until, waitForText, widget } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

const ARTIFACTS = path.join(E2E_DIR, 'test-results');
const fixture = sharedServerAndBrowser();

/**
 * Milliseconds from `action` until `predicate` (run in the page on every
 * animation frame) holds: what a person watching the page would see.
 */
async function timeUntil(page, action, predicate, arg) {
  const started = Date.now();
  const seen = page.waitForFunction(predicate, arg, { polling: 'raf' });
  await action();
  await seen;
  return Date.now() - started;
}

test('the wallboard shows a waiting contact, then the agent busy, each within a second', async (t) => {
  const { server, browser } = fixture;
  const supervisor = await openPage(browser);
  const visitorSide = await openPage(browser);
  const agentSide = await openPage(browser);
  t.after(() => Promise.all([supervisor, visitorSide, agentSide].map((s) => s.context.close())));
  mkdirSync(ARTIFACTS, { recursive: true });

  const board = supervisor.page;
  await board.setViewportSize({ width: 1280, height: 900 });
  await loginAgent(board, server.agentUrl, 'sam', DEMO_USERS.sam);
  await board.goto(`${server.agentUrl}/supervisor/`);
  const sales = board.locator('[data-testid="live-queues"] tr[data-queue="sales"]');
  await waitForText(sales.getByTestId('queue-waiting'), '0');
  assert.equal(await sales.getAttribute('data-alert'), 'ok');
  // The filters list the demo's centers and queues.
  await waitForText(board.getByTestId('filter-queue'), /billing/);

  const visitor = visitorSide.page;
  await visitor.goto(`${server.publicUrl}/demo/`);
  const chat = widget(visitor, 'sales');
  await chat.getByTestId('sb-launcher').click();
  await chat.getByTestId('sb-chat-input').fill('Is the grinder in stock?');
  const waitingAfter = await timeUntil(
    board,
    () => chat.getByTestId('sb-chat-send').click(),
    () => document.querySelector('tr[data-queue="sales"] [data-testid="queue-waiting"]')?.textContent === '1',
  );
  t.diagnostic(`waiting contact on the wallboard ${waitingAfter} ms after the visitor's send`);
  assert.ok(waitingAfter < 1000, `the waiting contact showed after ${waitingAfter} ms`);
  assert.equal(await sales.getAttribute('data-alert'), 'amber');
  await waitForText(sales.getByTestId('queue-alert'), 'amber');
  // The waiting contact is listed with its controls; a new priority shows.
  const waitingRow = board.locator('[data-testid="live-waiting"] tbody tr[data-contact]');
  await waitForText(waitingRow.getByTestId('waiting-position'), '1');
  await waitingRow.getByTestId('waiting-priority').fill('5');
  await waitingRow.getByTestId('waiting-priority-set').click();
  await until(
    async () => (await board.evaluate(() => fetch('/api/v1/live').then((r) => r.json()))).waiting[0]?.priority === 5,
    { message: 'the contact has priority 5 on the server' },
  );
  await until(async () => (await waitingRow.getByTestId('waiting-priority').inputValue()) === '5');
  assert.equal(await board.getByTestId('live-error').isVisible(), false);
  await board.screenshot({ path: path.join(ARTIFACTS, 'wallboard-waiting.png'), fullPage: true });

  await loginAvailable(agentSide.page, server.agentUrl, 'alice', DEMO_USERS.alice);
  const offer = agentSide.page.getByTestId('offer');
  await offer.waitFor();
  const busyAfter = await timeUntil(
    board,
    () => offer.getByTestId('offer-accept').click(),
    () => /busy/.test(document.querySelector('tr[data-agent="alice"] [data-testid="agent-state"]')?.textContent ?? ''),
  );
  t.diagnostic(`alice busy on the wallboard ${busyAfter} ms after her accept`);
  assert.ok(busyAfter < 1000, `alice showed busy after ${busyAfter} ms`);
  const alice = board.locator('[data-testid="live-agents"] tr[data-agent="alice"]');
  await waitForText(alice.getByTestId('agent-contacts'), /#\d+/);
  await waitForText(sales.getByTestId('queue-answered'), '1');
  await waitForText(sales.getByTestId('queue-waiting'), '0');
  assert.equal(await sales.getAttribute('data-alert'), 'ok');
  await waitForText(sales.getByTestId('queue-sl'), '100 %');
  await board.screenshot({ path: path.join(ARTIFACTS, 'wallboard-busy.png'), fullPage: true });

  // Sam sets alice away from the board: her console says so, and so does the board.
  await alice.getByTestId('agent-set-state').selectOption('away');
  await agentSide.page.locator('[data-testid="agent-status"][data-state="not_ready"]').waitFor();
  await waitForText(alice.getByTestId('agent-state'), /not ready.*away/);

  // Narrowed to billing, neither sales nor alice (no billing skill) shows.
  await board.getByTestId('filter-queue').selectOption('billing');
  await sales.waitFor({ state: 'detached' });
  await alice.waitFor({ state: 'detached' });

  for (const s of [supervisor, visitorSide, agentSide]) assert.deepEqual(s.problems.errors, []);
});
