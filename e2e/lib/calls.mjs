/**
 * Page helpers for the call tests: the visitor starts a call from the widget on
 * the demo shop (the call window opens as a popup), the agent accepts it in the
 * console.
 */
import { TIMEOUT_MS, waitForText, widget } from './browser.mjs';

/** The call window's remote audio (what the visitor hears). */
export const VISITOR_HEARS = '[data-testid="sb-remote-audio"]';
export const VISITOR_VIDEO = '[data-testid="sb-remote-video"]';

/** What an agent hears / sees on `contact`. */
export const agentHears = (contact) => `[data-testid="remote-audio-${contact}"]`;
export const agentSees = (contact) => `[data-testid="remote-video-${contact}"]`;

/**
 * Opens the widget panel of `link` on the visitor's page and presses Call (or
 * Video); resolves to the call window (a popup page of the same context), with
 * its page errors collected in `popup.problems`.
 */
export async function openCallWindow(page, link, media = 'voice') {
  const w = widget(page, link);
  await waitForText(w.getByTestId('sb-wait'), /available|wait/i);
  const button = w.getByTestId(`sb-call-${media}`);
  if (!(await button.isVisible())) await w.getByTestId('sb-launcher').click();
  const [popup] = await Promise.all([page.context().waitForEvent('page'), button.click()]);
  popup.setDefaultTimeout(TIMEOUT_MS);
  popup.problems = [];
  popup.on('pageerror', (err) => popup.problems.push(err.message));
  await popup.waitForLoadState('domcontentloaded');
  return popup;
}

/** Waits for the call window to reach `state` (its `data-state`: queued, connected, on_hold...). */
export async function waitForCallState(popup, state, options) {
  await popup.locator(`[data-testid="sb-call"][data-state="${state}"]`).waitFor(options);
}

/**
 * Accepts the offered call in the agent's console; resolves to the contact id
 * once the call panel shows the call connected.
 */
export async function acceptCall(page, { media = 'voice' } = {}) {
  const offer = page.getByTestId('offer');
  await waitForText(page.locator('#offer-title'), media === 'video' ? /video call/i : /voice call/i);
  await offer.getByTestId('offer-accept').click();
  await offer.waitFor({ state: 'hidden' });
  await waitForText(page.getByTestId('call-state'), /^Connected$/);
  const audio = page.locator('[data-testid^="remote-audio-"]');
  await audio.waitFor({ state: 'attached' });
  return Number((await audio.getAttribute('data-testid')).replace('remote-audio-', ''));
}
