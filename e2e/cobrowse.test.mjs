// Co-browsing in Chromium: the visitor on the demo shop shares the page by
// code, the agent sees it live in the console (text, typed values, scroll),
// masked fields never leave the page (checked on the WebSocket traffic both
// ways), the agent's pointer shows on the visitor's page, a pushed page opens
// and the view follows, control needs the visitor's consent, and stop ends
// the agent's view within a second.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DEMO_USERS, REPO_DIR } from './lib/server.mjs';
import { loginAgent, openPage, until, waitForText } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

const fixture = sharedServerAndBrowser();

/** Text canaries typed or placed where the agent must never see them. */
const CANARY = {
  password: 'CANARY-PASS-5e1f',
  note: 'CANARY-NOTE-77aa',
  textarea: 'CANARY-AREA-0b9c',
  placeholder: 'CANARY-HINT-31d2',
  block: 'CANARY-BLOCK-c4e8',
  hidden: 'CANARY-HIDDEN-9a0d',
  card: 'CANARY-4111-1111',
};

/** Fields and a masked region added to the demo page, as a merchant would. */
function addFields(page) {
  return page.evaluate((c) => {
    const form = document.createElement('form');
    form.id = 'cb-form';
    form.innerHTML =
      '<label>Name <input id="cb-name" data-sb-share></label>' +
      '<label>Password <input id="cb-pass" type="password"></label>' +
      `<label>Note <input id="cb-note" placeholder="${c.placeholder}"></label>` +
      '<label>Card <input id="cb-card" autocomplete="cc-number" data-sb-share></label>' +
      `<input type="hidden" name="token" value="${c.hidden}">` +
      '<textarea id="cb-area"></textarea>' +
      `<div id="cb-block" data-sb-mask style="width:200px;height:40px">${c.block}</div>` +
      '<p id="cb-live">Before the change</p>' +
      '<button type="submit" id="cb-submit">Place order</button>';
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      window.__submitted = true;
    });
    const spacer = document.createElement('div');
    spacer.style.height = '3000px';
    document.body.prepend(form);
    document.body.append(spacer);
  }, CANARY);
}

/** Every frame `page` sends and receives on a co-browse socket. */
function recordCobrowse(page) {
  const frames = { sent: [], received: [] };
  page.on('websocket', (ws) => {
    if (!new URL(ws.url()).pathname.endsWith('/ws/cobrowse')) return;
    ws.on('framesent', ({ payload }) => frames.sent.push(String(payload)));
    ws.on('framereceived', ({ payload }) => frames.received.push(String(payload)));
  });
  return frames;
}

function mirrorScrollTop(agent) {
  return agent.evaluate(() => {
    const doc = document.querySelector('[data-testid="cobrowse-view"]').contentDocument;
    return (doc.scrollingElement || doc.documentElement).scrollTop;
  });
}

test('the agent sees the visitor page live, masked fields never leave it', async () => {
  const { server, browser } = fixture;
  const pub = server.publicUrl;
  const visitorSide = await openPage(browser);
  const agentSide = await openPage(browser);
  const visitor = visitorSide.page;
  const agent = agentSide.page;
  const visitorFrames = recordCobrowse(visitor);
  const agentFrames = recordCobrowse(agent);

  await visitor.goto(`${pub}/demo/`);
  await addFields(visitor);
  const share = visitor.getByTestId('sb-cobrowse-share');
  await share.click();
  const codeText = await waitForText(visitor.getByTestId('sb-cobrowse-code'), /^\d{6}$/);

  await loginAgent(agent, server.agentUrl, 'alice', DEMO_USERS.alice);
  await agent.getByTestId('cobrowse-join-code').fill(codeText.trim());
  await agent.getByTestId('cobrowse-join').click();
  await waitForText(agent.getByTestId('cobrowse-status'), /waiting/i);
  await visitor.getByTestId('sb-cobrowse-accept').click();
  await visitor.getByTestId('sb-cobrowse-banner').waitFor();

  // The page appears in the view, and follows a change of its text.
  const view = agent.frameLocator('[data-testid="cobrowse-view"]');
  await waitForText(view.locator('h1'), 'Welcome to the Demo shop');
  await visitor.evaluate(() => {
    document.getElementById('cb-live').textContent = 'After the change';
  });
  await waitForText(view.locator('#cb-live'), 'After the change');

  // Typed values: the shared field as typed, every other field as dots.
  await visitor.locator('#cb-name').fill('Dana from the shop');
  await visitor.locator('#cb-pass').fill(CANARY.password);
  await visitor.locator('#cb-note').fill(CANARY.note);
  await visitor.locator('#cb-area').fill(CANARY.textarea);
  await visitor.locator('#cb-card').fill(CANARY.card);
  await until(async () => (await view.locator('#cb-name').inputValue()) === 'Dana from the shop', {
    message: 'the shared field typed in the view',
    describe: () => [...visitorFrames.sent.slice(-4), ...agentFrames.received.slice(-4)].map((f) => f.slice(0, 300)).join('\n'),
  });
  await until(async () => /^\u2022+$/.test(await view.locator('#cb-note').inputValue()), {
    message: 'the masked note shown as dots',
  });
  assert.match(await view.locator('#cb-pass').inputValue(), /^\u2022*$/);
  assert.equal(await view.locator('#cb-note').getAttribute('placeholder'), null);
  assert.equal(await view.locator('[data-sb-masked]').count(), 1, 'the masked block is a grey box');

  // Scroll follows.
  await visitor.evaluate(() => window.scrollTo(0, 1200));
  await until(async () => Math.abs((await mirrorScrollTop(agent)) - 1200) < 5, {
    message: 'the view scrolled with the visitor',
    describe: async () => `scrollTop ${await mirrorScrollTop(agent)}`,
  });
  await visitor.evaluate(() => window.scrollTo(0, 0));

  // The agent's pointer shows on the visitor's page.
  const overlay = agent.getByTestId('cobrowse-overlay');
  await overlay.hover({ position: { x: 40, y: 30 } });
  await overlay.hover({ position: { x: 60, y: 50 } });
  await visitor.getByTestId('sb-agent-pointer').waitFor({ state: 'visible' });

  // Control only with the visitor's consent; then a click and typing fill
  // the shared field, and the submit button stays out of reach.
  assert.equal(await agent.getByTestId('cobrowse-control-input').isDisabled(), true);
  await agent.getByTestId('cobrowse-control-request').click();
  await visitor.getByTestId('sb-control-accept').click();
  await agent.locator('[data-testid="cobrowse"][data-control="granted"]').waitFor();
  const clickOn = async (selector) => {
    const box = await view.locator(selector).boundingBox();
    await agent.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  };
  await clickOn('#cb-name');
  await agent.getByTestId('cobrowse-control-input').fill('Filled by Alice');
  await until(async () => (await visitor.locator('#cb-name').inputValue()) === 'Filled by Alice', {
    message: 'the agent filled the visitor field',
  });
  await clickOn('#cb-submit');
  await clickOn('#cb-name');
  assert.notEqual(await visitor.evaluate(() => window.__submitted), true, 'the agent cannot submit');

  // The agent pushes a page: the visitor's tab opens it and the view follows.
  await agent.getByTestId('cobrowse-push-url').fill(`${pub}/demo/products.html`);
  await agent.getByTestId('cobrowse-push').click();
  await visitor.waitForURL(`${pub}/demo/products.html`);
  await visitor.getByTestId('sb-cobrowse-banner').waitFor();
  await until(async () => (await agent.getByTestId('cobrowse').getAttribute('data-url')) === `${pub}/demo/products.html`, {
    message: 'the view follows to the pushed page',
  });
  await waitForText(view.locator('body'), 'Order number');

  // Stop: the agent's view ends within a second.
  const stopped = Date.now();
  await visitor.getByTestId('sb-cobrowse-stop').click();
  await waitForText(agent.getByTestId('cobrowse-status'), /stopped sharing/i, { timeout: 1000 });
  const stopMs = Date.now() - stopped;

  // Nothing masked left the page, either way.
  const wire = [...visitorFrames.sent, ...visitorFrames.received, ...agentFrames.sent, ...agentFrames.received].join('\n');
  for (const [what, canary] of Object.entries(CANARY)) {
    assert.ok(!wire.includes(canary), `${what} canary on the wire`);
  }
  assert.ok(wire.includes('Dana from the shop'), 'the shared field did travel');

  const snapshots = visitorFrames.sent.filter((f) => f.includes('"type":"snapshot"'));
  const first = snapshots.filter((f) => f.includes('"url":"' + pub + '/demo/"'));
  const bytes = first.reduce((n, f) => n + Buffer.byteLength(f), 0);
  console.log(`cobrowse: demo page snapshot ${bytes} bytes in ${first.length} chunk(s); stop reached the view in ${stopMs} ms`);
  assert.deepEqual(visitorSide.problems.errors, []);
  assert.deepEqual(agentSide.problems.errors, []);
});

test('the capture script stays within its 25 KB gzipped budget', async () => {
  const source = await readFile(path.join(REPO_DIR, 'web/widget/cobrowse.js'));
  const gz = gzipSync(source, { level: 9 }).length;
  console.log(`cobrowse: web/widget/cobrowse.js ${source.length} bytes, ${gz} bytes gzipped`);
  assert.ok(gz <= 25 * 1024, `cobrowse.js is ${gz} bytes gzipped`);
});

test('a hostile page runs no code in the agent view', async () => {
  const { server, browser } = fixture;
  const visitorSide = await openPage(browser);
  const agentSide = await openPage(browser);
  const visitor = visitorSide.page;
  const agent = agentSide.page;
  await visitor.goto(`${server.publicUrl}/demo/`);
  await visitor.evaluate(() => {
    const bad = document.createElement('div');
    bad.id = 'hostile';
    // Built with DOM calls so nothing runs on the visitor's side either.
    const img = document.createElement('img');
    img.setAttribute('src', 'x:nothing');
    img.setAttribute('onerror', 'parent.__pwned = 1');
    const a = document.createElement('a');
    a.setAttribute('href', 'javascript:parent.__pwned=2');
    a.textContent = 'hostile link';
    const style = document.createElement('p');
    style.setAttribute('style', 'width: expression(parent.__pwned=3)');
    style.textContent = 'styled';
    bad.append(img, a, style);
    document.body.prepend(bad);
  });
  await visitor.getByTestId('sb-cobrowse-share').click();
  const code = await waitForText(visitor.getByTestId('sb-cobrowse-code'), /^\d{6}$/);
  await loginAgent(agent, server.agentUrl, 'bob', DEMO_USERS.bob);
  await agent.getByTestId('cobrowse-join-code').fill(code.trim());
  await agent.getByTestId('cobrowse-join').click();
  await visitor.getByTestId('sb-cobrowse-accept').click();
  const view = agent.frameLocator('[data-testid="cobrowse-view"]');
  await waitForText(view.locator('#hostile'), 'hostile link');
  assert.equal(await view.locator('#hostile img').getAttribute('onerror'), null);
  assert.equal(await view.locator('#hostile a').getAttribute('href'), null);
  assert.doesNotMatch((await view.locator('#hostile p').getAttribute('style')) || '', /expression/);
  assert.equal(await agent.evaluate(() => window.__pwned), undefined);
  await visitor.getByTestId('sb-cobrowse-stop').click();
});
