// Reports and the phone screen pop, in Chromium against one server:
//
// 1. A visitor chats with alice on the demo shop; sam opens the supervisor
//    page, where today's report counts the contact (offered and answered) and
//    the chart draws its bars. A screenshot of the report is saved under
//    e2e/test-results/ for a person to look at.
// 2. A caller dials one of a tenant's numbers over the trunk (SIPp as the
//    carrier, sipp/uac-dial-in.xml): the agent's offer shows the caller's
//    number, the number dialled, and the CRM customer that number belongs to
//    (screenshot: e2e/test-results/phone-screenpop.png).
//    Needs SIPp: without it this test skips, unless CI=true.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DEMO_USERS, E2E_DIR, startServer } from './lib/server.mjs';
import {
  TIMEOUT_MS, launchBrowser, loginAgent, loginAvailable, openPage, until, waitForText, widget,
} from './lib/browser.mjs';
import { SIPP_PATH, freeSipPort, freeUdpPort, haveSipp, startSipp } from './lib/sipp.mjs';
import { tenant } from './lib/tenants.mjs';

const ARTIFACTS = path.join(E2E_DIR, 'test-results');
const DID = '+15125550123';
const CALLER = '+15125557001';

const noSipp = !haveSipp() && process.env.CI !== 'true' ? `SIPp is not installed at ${SIPP_PATH} (apt-get install sip-tester)` : false;
if (noSipp) console.log(`skipping the phone screen pop test: ${noSipp}`);

/** `ringco`: calls to DID ring agent pat; Robin's CRM record has the caller's number. */
const phoneTenant = (carrierPort) =>
  `${tenant('ringco')
    .name('Ring Co')
    .center('hq', { time_zone: 'UTC' })
    .queue('desk')
    .link('desk', { name: 'Front desk', queue: 'desk', calls: ['voice'] })
    .agent('pat', { skills: ['desk'] })
    .phone({})
    .trunk('carrier', { host: '127.0.0.1', port: carrierPort, transport: 'udp', allowed_sources: ['127.0.0.1'] })
    .toString()}
[[phone.numbers]]
number = "${DID}"
link = "desk"

[[customers]]
external_id = "cust-77"
name = "Robin Caller"
tier = "gold"
# The caller's number is Robin's second: every number matches.
phone = "+44 20 7946 0000"
phones = ["+1 512 555 7001"]
tickets = [{ reference = "T-7", subject = "Router keeps rebooting", status = "open" }]
`;

const shared = { server: null, browser: null, sipPort: 0, carrierPort: 0 };
before(async () => {
  shared.sipPort = await freeSipPort();
  shared.carrierPort = await freeUdpPort();
  shared.server = await startServer({
    tenantFiles: [phoneTenant(shared.carrierPort)],
    extraArgs: ['--sip-addr', `127.0.0.1:${shared.sipPort}`],
  });
  shared.browser = await launchBrowser();
});
after(async () => {
  await shared.browser?.close();
  await shared.server?.stop();
});

test('after a chat, today\'s report counts it and draws the chart; the CSV has the same row', async (t) => {
  const { server, browser } = shared;
  const visitorSide = await openPage(browser);
  const agentSide = await openPage(browser);
  const supervisorSide = await openPage(browser);
  t.after(() => Promise.all([visitorSide, agentSide, supervisorSide].map((s) => s.context.close())));

  await loginAvailable(agentSide.page, server.agentUrl, 'alice', DEMO_USERS.alice, { tenant: 'demo' });
  const visitor = visitorSide.page;
  await visitor.goto(`${server.publicUrl}/demo/`);
  const sales = widget(visitor, 'sales');
  await waitForText(sales.getByTestId('sb-wait'), /available|wait/i);
  await sales.getByTestId('sb-launcher').click();
  await sales.getByTestId('sb-chat-input').fill('How much is shipping to Porto?');
  await sales.getByTestId('sb-chat-send').click();
  const offer = agentSide.page.getByTestId('offer');
  await offer.waitFor();
  await offer.getByTestId('offer-accept').click();
  await waitForText(sales.getByTestId('sb-state'), /connected to alice/i);

  // sam opens the supervisor page: the report section shows today.
  const page = supervisorSide.page;
  await loginAgent(page, server.agentUrl, 'sam', DEMO_USERS.sam, { tenant: 'demo' });
  await page.goto(`${server.agentUrl}/supervisor/`);
  const reports = page.getByTestId('reports');
  await reports.scrollIntoViewIfNeeded();
  await page.getByTestId('report-group').selectOption('link');
  const row = reports.locator('[data-testid="report-rows"] tbody tr:not(.totals)').first();
  // The answer is stored just after the console hears of it: ask again until
  // the report has it.
  await until(async () => {
    await Promise.all([
      page.waitForResponse((r) => r.url().includes('/api/v1/reports/intervals?')),
      page.getByTestId('report-run').click(),
    ]);
    return (await row.locator('[data-figure="answered"]').textContent({ timeout: 200 }).catch(() => '')) === '1';
  }, { message: 'the chat counted as offered and answered in today\'s report' });
  assert.equal(await row.locator('td').first().textContent(), 'sales');
  assert.equal(await row.locator('[data-figure="offered"]').textContent(), '1');
  // The chart: one bar per figure that has a value, with its tooltip.
  const bars = reports.locator('[data-testid="report-svg"] rect[data-series]');
  await until(async () => (await bars.count()) >= 2, { message: 'bars for offered and answered' });
  assert.match(await bars.first().locator('title').textContent(), /Offered: 1$/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await reports.screenshot({ path: path.join(ARTIFACTS, 'report-chart.png') });

  // Download CSV: the same figures, fetched with sam's session.
  const href = await reports.getByTestId('report-csv').getAttribute('href');
  assert.match(href, /^\/api\/v1\/reports\/intervals\.csv\?/);
  const csv = await (await page.context().request.get(`${server.agentUrl}${href}`)).text();
  const lines = csv.trim().split('\n');
  assert.ok(lines[0].startsWith('start,group,offered,answered'), lines[0]);
  assert.ok(lines.some((l) => /,sales,1,1,0,/.test(l)), csv);
  assert.deepEqual(supervisorSide.problems, { errors: [], dialogs: [] });
});

test('a phone caller\'s screen pop shows their number, the number dialled and their CRM record', { skip: noSipp }, async (t) => {
  const { server, browser } = shared;
  const password = server.newUsers.pat;
  assert.ok(password, `tenant apply created pat:\n${server.tenantOutput.join('\n')}`);
  const agent = await openPage(browser);
  t.after(() => agent.context.close());
  await loginAvailable(agent.page, server.agentUrl, 'pat', password, { tenant: 'ringco' });

  const caller = await startSipp({
    scenario: 'uac-dial-in.xml',
    port: shared.carrierPort,
    remote: `127.0.0.1:${shared.sipPort}`,
    service: DID,
    // Where its media would go: a port nothing listens on (the test needs no
    // audio), but not 0, which would refuse the audio stream.
    phonePort: await freeUdpPort(),
    keys: { caller: CALLER },
  });
  t.after(() => caller.stop());

  const pop = agent.page.getByTestId('offer').getByTestId('screenpop');
  try {
    await waitForText(pop.getByTestId('phone-from'), CALLER, { timeout: TIMEOUT_MS });
  } catch (err) {
    throw new Error(`${err.message}\n${caller.logs()}`);
  }
  assert.equal(await pop.getByTestId('phone-to').textContent(), DID);
  await waitForText(pop.getByTestId('identity-name'), 'Robin Caller');
  assert.equal(await pop.getByTestId('identity-badge').textContent(), 'Unverified');
  await waitForText(pop, 'T-7');
  await waitForText(pop, 'matched by caller id');
  assert.doesNotMatch(await pop.textContent(), /Anonymous visitor/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await pop.screenshot({ path: path.join(ARTIFACTS, 'phone-screenpop.png') });
  assert.deepEqual(agent.problems.errors, []);
});
