/**
 * Set-up and tear-down the browser tests share, as node:test hooks: what a test
 * file or a test starts here is stopped or closed when the file or the test
 * ends, whether it passed or not.
 *
 * For the whole file (call at the top level of a test file):
 *
 *   const fixture = sharedServerAndBrowser();  // options as startServer's
 *   test('...', async () => {
 *     const { server, browser } = fixture;     // set once the tests run
 *
 * For one test:
 *
 *   test('...', async (t) => {
 *     const server = await serverForTest(t, { tenantFiles: [toml] });
 *     const agent = await pageForTest(t, browser);   // openPage's { context, page, problems }
 */
import { after, before } from 'node:test';
import { launchBrowser, openPage } from './browser.mjs';
import { startServer } from './server.mjs';

/**
 * One server (the demo tenant; `serverOptions` as startServer takes them) and
 * one headless Chromium for every test of the file. The returned object's
 * `server` and `browser` are set before the first test and stopped after the
 * last.
 */
export function sharedServerAndBrowser(serverOptions = {}) {
  const shared = { server: null, browser: null };
  before(async () => {
    shared.server = await startServer(serverOptions);
    shared.browser = await launchBrowser();
  });
  after(async () => {
    await shared.browser?.close();
    await shared.server?.stop();
  });
  return shared;
}

/**
 * One browser from `launch` (e.g. `() => launchMediaBrowser(...)`) for every
 * test of the file, closed after the last; none when the file's tests are
 * skipped (`skip` truthy), so a missing tool costs no browser.
 */
export function sharedBrowser(launch, { skip = false } = {}) {
  const shared = { browser: null };
  before(async () => {
    if (!skip) shared.browser = await launch();
  });
  after(async () => {
    await shared.browser?.close();
  });
  return shared;
}

/** A server of its own for test `t` (options as startServer's), stopped when `t` ends. */
export async function serverForTest(t, options = {}) {
  const server = await startServer(options);
  t.after(() => server.stop());
  return server;
}

/** A page in a fresh context of `browser` for test `t` (openPage's result), closed when `t` ends. */
export async function pageForTest(t, browser) {
  const side = await openPage(browser);
  t.after(() => side.context.close());
  return side;
}
