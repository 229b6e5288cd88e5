// A link whose only center is closed (a holiday today and tomorrow, in UTC): the
// launcher says "Closed now", the panel says when we open again, and a message sent
// anyway gets the polite "closed" answer, all without page errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addWidget, openPage, until, waitForText } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';
import { closedTenant } from './lib/tenants.mjs';

const DAY_MS = 86_400_000;
const CLOSED_MESSAGE = 'We are closed right now. You can leave a message, or come back when we open.';

// Today and tomorrow (UTC) are holidays, so the center stays closed even when the
// test runs across midnight; the center has no weekly hours (open around the clock
// otherwise), so it opens again at 00:00 UTC the day after tomorrow.
const todayMs = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const ymd = (ms) => new Date(ms).toISOString().slice(0, 10);
const HOLIDAYS = [ymd(todayMs), ymd(todayMs + DAY_MS)];
const NEXT_OPEN_MS = todayMs + 2 * DAY_MS;

const TENANT_FILE = closedTenant({ holidays: HOLIDAYS }).toString();

const fixture = sharedServerAndBrowser({ tenantFiles: [TENANT_FILE] });

/** Records the JSON frames the server sends on the visitor socket for tenant/link. */
function recordVisitorFrames(page, tenant, link) {
  const frames = [];
  page.on('websocket', (ws) => {
    const url = new URL(ws.url());
    if (!url.pathname.endsWith('/ws/visitor')) return;
    if (url.searchParams.get('tenant') !== tenant || url.searchParams.get('link') !== link) return;
    ws.on('framereceived', ({ payload }) => {
      try {
        frames.push(JSON.parse(String(payload)));
      } catch {
        /* not JSON: not ours to check here */
      }
    });
  });
  return frames;
}

test('tenant apply printed the new agent and her password', () => {
  const { server } = fixture;
  assert.match(server.tenantOutput[0], /^tenant closedco created: /m);
  assert.ok(server.newUsers.kim, `a generated password for kim in:\n${server.tenantOutput[0]}`);
});

test('a closed link says so, names the next opening and answers a message politely', async () => {
  const { server, browser } = fixture;
  const { page, problems, context } = await openPage(browser);
  const frames = recordVisitorFrames(page, 'closedco', 'help');
  await page.goto(`${server.publicUrl}/demo/`);
  await addWidget(page, 'closedco', 'help');
  const help = page.locator('[data-sb-tenant="closedco"][data-sb-link="help"]');

  // The launcher: closed, and still clickable (a message may be left).
  await waitForText(help.getByTestId('sb-wait'), 'Closed now');
  assert.equal(await help.getByTestId('sb-launcher').isDisabled(), false);

  // The server's welcome says closed, opening at midnight UTC after the holidays.
  const welcome = await until(() => frames.find((f) => f.type === 'welcome'), { message: 'the welcome frame' });
  assert.equal(welcome.open, false, JSON.stringify(welcome));
  assert.equal(welcome.next_open, NEXT_OPEN_MS, JSON.stringify(welcome));

  // How the panel names that moment in the browser's own time zone and locale
  // ("on Mon 00:00" style: it is never today).
  const opening = await page.evaluate((ms) => {
    const d = new Date(ms);
    const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return `on ${d.toLocaleDateString([], { weekday: 'short' })} ${time}`;
  }, NEXT_OPEN_MS);

  // The panel, before any message.
  await help.getByTestId('sb-launcher').click();
  const state = help.getByTestId('sb-state');
  await waitForText(state, 'We are closed right now.');
  assert.equal(
    (await state.textContent()).trim(),
    `We are closed right now. We open again ${opening}. You can leave a message.`,
  );

  // A message anyway: the polite refusal, with the next opening.
  const text = 'Is anyone there today?';
  await help.getByTestId('sb-chat-input').fill(text);
  await help.getByTestId('sb-chat-send').click();
  const log = help.getByTestId('sb-chat-log');
  await waitForText(log, CLOSED_MESSAGE);
  await waitForText(state, 'We open again');
  assert.equal((await state.textContent()).trim(), `${CLOSED_MESSAGE} We open again ${opening}.`);
  // The visitor's message stays in the log, no longer pending.
  const mine = log.locator('.msg.visitor');
  assert.equal(await mine.count(), 1);
  assert.equal((await mine.locator('.text').textContent()).trim(), text);
  await until(async () => !(await mine.getAttribute('class')).includes('pending'), {
    message: 'the visitor message to leave the pending state',
  });

  const refused = frames.find((f) => f.type === 'unavailable');
  assert.ok(refused, `an unavailable frame among ${JSON.stringify(frames.map((f) => f.type))}`);
  assert.equal(refused.reason, 'closed');
  assert.equal(refused.message, CLOSED_MESSAGE);
  assert.equal(refused.next_open, NEXT_OPEN_MS);

  // The launcher still says closed.
  assert.equal((await help.getByTestId('sb-wait').textContent()).trim(), 'Closed now');

  // A call back instead: scheduled for the next opening.
  await help.getByTestId('sb-callback-phone').fill('+1 (555) 123-4567');
  await help.getByTestId('sb-callback-submit').click();
  await waitForText(state, 'We will call you back around');
  const scheduled = await until(() => frames.find((f) => f.type === 'callback_scheduled'), {
    message: 'the callback_scheduled frame',
  });
  assert.equal(scheduled.at, NEXT_OPEN_MS, JSON.stringify(scheduled));
  assert.equal(await help.getByTestId('sb-callback-phone').isVisible(), false);

  assert.deepEqual(problems.errors, []);
  assert.deepEqual(problems.dialogs, []);
  await context.close();
});
