/**
 * Browser helpers for the e2e tests: a headless system Chromium (never downloaded),
 * polling waits instead of sleeps, and small page helpers for the widget and console.
 */
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_MS) || 15_000;

/** A fresh headless Chromium; `chromium.launch` uses a throwaway profile.
 * `extraArgs` adds command-line switches (e.g. fake media devices, lib/media.mjs). */
export function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

/** A new context + page with sane timeouts and a record of page errors and dialogs. */
export async function openPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const problems = { errors: [], dialogs: [] };
  page.on('pageerror', (err) => problems.errors.push(err.message));
  page.on('dialog', (dialog) => {
    problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  return { context, page, problems };
}

/**
 * Polls `check` until it returns a truthy value (which is returned) or the time is up.
 * `describe` (optional) returns a string for the failure message.
 */
export async function until(check, { timeout = TIMEOUT_MS, interval = 50, message = 'condition', describe } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      let detail = '';
      if (describe) detail = ` (${await Promise.resolve().then(describe).catch((e) => e.message)})`;
      if (lastError) detail += ` last error: ${lastError.message}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${detail}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Waits until the locator's text contains `expected` (a string or a RegExp). */
export async function waitForText(locator, expected, { timeout = TIMEOUT_MS } = {}) {
  const matches = (text) =>
    expected instanceof RegExp ? expected.test(text) : text.includes(expected);
  let last = '';
  await until(
    async () => {
      last = (await locator.first().textContent({ timeout: 1000 })) ?? '';
      return matches(last);
    },
    { timeout, message: `text ${expected} in ${locator}`, describe: () => `last text: ${JSON.stringify(last)}` },
  );
  return last;
}

/** The host element of the widget for `link` (its shadow root is open, so locators pierce it). */
export function widget(page, link) {
  return page.locator(`[data-sb-link="${link}"]`);
}

/** Adds a widget script tag for `tenant`/`link` to the page (same origin as the server). */
export function addWidget(page, tenant, link) {
  return page.evaluate(
    ([t, l]) => {
      const s = document.createElement('script');
      s.src = '/widget.js';
      s.async = true;
      s.dataset.tenant = t;
      s.dataset.link = l;
      document.body.append(s);
    },
    [tenant, link],
  );
}

/**
 * Signs in on the agent console and waits for the console and its WebSocket.
 * `tenant`: typed in, for a server with several tenants (the console prefills
 * the tenant only when there is one, the demo's, and never over a typed one).
 */
export async function loginAgent(page, agentUrl, user, password, { tenant: tenantSlug } = {}) {
  await page.goto(`${agentUrl}/`);
  const tenant = page.getByTestId('login-tenant');
  if (tenantSlug) await tenant.fill(tenantSlug);
  else await until(async () => (await tenant.inputValue()) === 'demo', { message: 'tenant prefilled from login-hint' });
  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await waitForText(page.getByTestId('connection'), 'Connected');
}

/** Sets the agent status and waits until the server confirms it. */
export async function setAgentStatus(page, state) {
  await page.getByTestId('agent-status').selectOption(state);
  await page.locator(`[data-testid="agent-status"][data-state="${state}"]`).waitFor();
}

/** Signs in as loginAgent does and sets the agent available: ready for offers. */
export async function loginAvailable(page, agentUrl, user, password, options) {
  await loginAgent(page, agentUrl, user, password, options);
  await setAgentStatus(page, 'available');
}

/** Records the JSON frames the server sends on `page`'s visitor sockets into `frames`. */
export function recordVisitorFrames(page, frames = []) {
  page.on('websocket', (ws) => {
    if (!new URL(ws.url()).pathname.endsWith('/ws/visitor')) return;
    ws.on('framereceived', ({ payload }) => {
      try {
        frames.push(JSON.parse(String(payload)));
      } catch {
        /* not JSON */
      }
    });
  });
  return frames;
}
