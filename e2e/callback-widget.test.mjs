// "Call me back" from the widget on an open link (issue 14): the visitor picks
// a country, types a national number, picks a slot shown in their own time
// zone and sees the confirmation; moved to "as soon as possible" it shows the
// place in line and the estimate. The manage link opens in a new page, changes
// the time (GET /api/v1/callbacks follows) and cancels (gone). A number the
// tenant does not call back is refused with the server's reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addWidget, loginAgent, openPage, until, waitForText } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

// Open around the clock (no weekly hours); callbacks to the UK only, never
// to its premium-rate 09 range; kim dials them by hand, sid supervises.
const TENANT_FILE = `[tenant]
slug = "cbw"
name = "Callback Widget Co"

[[centers]]
name = "hq"
time_zone = "UTC"

[[queues]]
name = "help"
skill = "help"

[calls]
callback_destinations = ["+44"]
callback_blocked = ["+449"]

[[links]]
slug = "help"
name = "Help"
queue = "help"

[links.callback]
form = true
dial = "agent"

[[agents]]
name = "kim"
skills = ["help"]

[[agents]]
name = "sid"
role = "supervisor"
`;

const fixture = sharedServerAndBrowser({ tenantFiles: [TENANT_FILE] });

/** Sid's session on the REST API. */
async function supervisor(server) {
  const r = await fetch(`${server.agentUrl}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenant: 'cbw', name: 'sid', password: server.newUsers.sid }),
  });
  assert.equal(r.status, 200);
  const cookie = r.headers.get('set-cookie').split(';')[0];
  return {
    async callbacks() {
      const list = await fetch(`${server.agentUrl}/api/v1/callbacks`, { headers: { cookie } });
      assert.equal(list.status, 200);
      return (await list.json()).callbacks;
    },
  };
}

test('a visitor books, moves and cancels a callback from the widget and its link', async () => {
  const { server, browser } = fixture;
  const sid = await supervisor(server);
  const { page, problems, context } = await openPage(browser);
  await page.goto(`${server.publicUrl}/demo/`);
  await addWidget(page, 'cbw', 'help');
  const help = page.locator('[data-sb-tenant="cbw"][data-sb-link="help"]');
  await help.getByTestId('sb-launcher').click();
  await help.getByTestId('sb-callback-open').click();

  // The picker offers the tenant's countries only.
  const country = help.getByTestId('sb-callback-country');
  await until(async () => (await country.locator('option').count()) > 0, { message: 'countries' });
  assert.deepEqual(await country.locator('option').evaluateAll((os) => os.map((o) => o.value)), ['44']);

  // A premium-rate number: the server's reason, nothing stored.
  await help.getByTestId('sb-callback-phone').fill('909 876 5432');
  await help.getByTestId('sb-callback-submit').click();
  await waitForText(help.getByTestId('sb-callback-error'), 'cannot call this number back');
  assert.deepEqual(await sid.callbacks(), []);

  // A slot, in the visitor's time zone; sent as the server gave it (UTC ms).
  const when = help.getByTestId('sb-callback-when');
  await until(async () => (await when.locator('option').count()) > 10, { message: 'slots' });
  const slots = await when.locator('option').evaluateAll((os) => os.map((o) => o.value).filter((v) => v !== 'asap'));
  const first = Number(slots[3]);
  const label = await page.evaluate(
    (ms) => new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' }).format(new Date(ms)),
    first,
  );
  assert.equal((await when.locator(`option[value="${first}"]`).textContent()).trim(), label);
  await when.selectOption(String(first));
  await help.getByTestId('sb-callback-phone').fill('020 7946 0123');
  await help.getByTestId('sb-callback-reason').fill('question about order 5531');
  await help.getByTestId('sb-callback-submit').click();
  const confirmation = help.getByTestId('sb-callback-confirmation');
  await waitForText(confirmation, 'We will call you around');
  // The record is written just after the answer: wait for it.
  let list = await until(async () => {
    const l = await sid.callbacks();
    return l.length === 1 && l[0].scheduled_for === first && l;
  }, { message: 'the callback stored at its slot' });
  assert.equal(list[0].phone, '+442079460123');

  // As soon as possible: in line now, first, with an estimate.
  await help.getByTestId('sb-callback-reschedule-when').selectOption('asap');
  await help.getByTestId('sb-callback-reschedule').click();
  await waitForText(help.getByTestId('sb-callback-position'), '1');
  await waitForText(help.getByTestId('sb-callback-estimate'), /min/);
  await until(async () => (await sid.callbacks())[0]?.scheduled_for == null, { message: 'the callback in line now' });

  // The manage link, in a page of its own.
  const href = await help.getByTestId('sb-callback-manage').getAttribute('href');
  assert.match(href, /\/callback\/[A-Za-z0-9_-]+$/);
  const manage = await openPage(browser);
  await manage.page.goto(href);
  await waitForText(manage.page.getByTestId('manage-phone'), '+44 ••••••••23');
  await waitForText(manage.page.getByTestId('manage-state'), 'Waiting');
  const later = Number(slots[8]);
  await manage.page.getByTestId('manage-when').selectOption(String(later));
  await manage.page.getByTestId('manage-reschedule').click();
  await until(async () => (await manage.page.getByTestId('manage-state').getAttribute('data-state')) === 'scheduled', {
    message: 'the page to show the new time',
  });
  list = await until(async () => {
    const l = await sid.callbacks();
    return l[0]?.scheduled_for === later && l;
  }, { message: 'the callback stored at its new time' });

  // The supervisor's page lists it under its queue and moves it to now.
  const boss = await openPage(browser);
  await loginAgent(boss.page, server.agentUrl, 'sid', server.newUsers.sid, { tenant: 'cbw' });
  await boss.page.goto(`${server.agentUrl}/supervisor/`);
  const entry = boss.page.locator(`[data-testid=callbacks] [data-queue="help"] tr[data-contact="${list[0].contact}"]`);
  await waitForText(entry.getByTestId('callback-status'), 'scheduled');
  await entry.getByTestId('callback-now').click();
  await waitForText(entry.getByTestId('callback-due'), 'as soon as possible');
  assert.equal((await sid.callbacks())[0].scheduled_for, null);
  assert.deepEqual(boss.problems.errors, []);
  await boss.context.close();
  await manage.page.reload();
  await waitForText(manage.page.getByTestId('manage-state'), 'Waiting');

  await manage.page.getByTestId('manage-cancel').click();
  await waitForText(manage.page.getByTestId('manage-notice'), 'cancelled');
  await until(async () => (await sid.callbacks()).length === 0, { message: 'the callback gone' });

  assert.deepEqual(problems.errors, []);
  assert.deepEqual(manage.problems.errors, []);
  await manage.context.close();
  await context.close();
});
