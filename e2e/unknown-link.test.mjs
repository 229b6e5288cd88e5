// A widget for a link or tenant that does not exist says chat is unavailable and
// breaks nothing on the page; the demo page's three tags all initialise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addWidget, openPage, waitForText, widget } from './lib/browser.mjs';
import { sharedServerAndBrowser } from './lib/hooks.mjs';

const fixture = sharedServerAndBrowser();

test('unknown link and unknown tenant show "unavailable" without page errors', async () => {
  const { server, browser } = fixture;
  const { page, problems, context } = await openPage(browser);
  await page.goto(`${server.publicUrl}/demo/`);
  await addWidget(page, 'demo', 'nope');
  await addWidget(page, 'no-such-tenant', 'sales');

  await waitForText(widget(page, 'nope').getByTestId('sb-wait'), /unavailable/i);
  const other = page.locator('[data-sb-tenant="no-such-tenant"]');
  await waitForText(other.getByTestId('sb-wait'), /unavailable/i);
  assert.equal(await widget(page, 'nope').getByTestId('sb-launcher').isDisabled(), true);
  // The real widgets on the page are unaffected.
  await waitForText(widget(page, 'support').getByTestId('sb-wait'), /available|wait/i);

  assert.deepEqual(problems.errors, []);
  assert.deepEqual(problems.dialogs, []);
  await context.close();
});

test('every widget tag on a page gets its own launcher', async () => {
  const { server, browser } = fixture;
  const { page, problems, context } = await openPage(browser);
  await page.goto(`${server.publicUrl}/demo/`);
  for (const link of ['sales', 'support', 'billing']) {
    await waitForText(widget(page, link).getByTestId('sb-wait'), /available|wait/i);
  }
  assert.equal(await page.getByTestId('sb-launcher').count(), 3);
  // Two more tags with the same src added at once both initialise.
  await page.evaluate(() => {
    for (const link of ['support', 'billing']) {
      const s = document.createElement('script');
      s.src = '/widget.js';
      s.async = true;
      s.dataset.tenant = 'demo';
      s.dataset.link = link;
      s.dataset.label = `Extra ${link}`;
      document.body.append(s);
    }
  });
  await page.getByText('Extra support').waitFor();
  await page.getByText('Extra billing').waitFor();
  assert.equal(await page.getByTestId('sb-launcher').count(), 5);

  // The visit was recorded for the screen pop.
  const pages = await page.evaluate(() => JSON.parse(sessionStorage.getItem('sb:pages')));
  assert.equal(pages.length, 1);
  assert.equal(pages[0].url, `${server.publicUrl}/demo/`);
  assert.equal(pages[0].title, 'Demo shop');

  assert.deepEqual(problems.errors, []);
  await context.close();
});
