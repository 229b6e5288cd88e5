/**
 * The console's "Callbacks" card: the callbacks of the queues the agent
 * serves (pending, scheduled, in progress, failed) from
 * `GET /api/v1/callbacks` (numbers masked for agents), with "Take now" on
 * those still waiting (`POST /api/v1/callbacks/{id}/take`: the callback is
 * offered to this agent at once, and the usual card or offer follows).
 *
 * Refreshed on a modest interval, and at once when the console's socket says
 * something changed (a callback frame, an assignment, a withdrawn offer).
 * Visitor text (the reason) goes in as text nodes only.
 */
import { api } from '/common/api.js';
import { h, formatTime } from '/common/dom.js';

/** Polling is the fallback; socket frames trigger refreshes in between. */
const REFRESH_MS = 15000;
const STATUS_TEXT = {
  pending: 'Waiting',
  scheduled: 'Scheduled',
  in_progress: 'In progress',
  failed: 'Failed',
};

export class CallbackList {
  #card;
  #list;
  #problem;
  #timer = null;
  #loading = null;

  /** `card` holds a `ul` for the rows; `problem(message)` shows refusals. */
  constructor(card, problem) {
    this.#card = card;
    this.#list = card.querySelector('ul');
    this.#problem = problem;
  }

  start() {
    this.stop();
    this.refresh();
    this.#timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = null;
    this.#card.hidden = true;
  }

  /** Loads the list again (one request at a time; a call during one waits for it). */
  async refresh() {
    if (this.#loading) return this.#loading;
    this.#loading = (async () => {
      try {
        const { callbacks = [] } = (await api('/api/v1/callbacks')) || {};
        this.#render(callbacks);
      } catch {
        // A refusal (e.g. signed out) or a network blip: the next tick retries.
      } finally {
        this.#loading = null;
      }
    })();
    return this.#loading;
  }

  #render(callbacks) {
    this.#card.hidden = callbacks.length === 0;
    this.#list.replaceChildren(...callbacks.map((cb) => this.#row(cb)));
  }

  #row(cb) {
    const waiting = cb.status === 'pending' || cb.status === 'scheduled';
    const when = cb.status === 'scheduled' && cb.scheduled_for
      ? `at ${formatTime(cb.scheduled_for)}`
      : `asked ${formatTime(cb.requested_at)}`;
    const attempts = cb.attempts ? `${cb.attempts} attempt${cb.attempts === 1 ? '' : 's'}` : '';
    return h(
      'li',
      { class: `callback-row ${cb.status}`, dataset: { testid: 'callback-row', contact: String(cb.contact) } },
      h('span', { class: 'mono', dataset: { testid: 'callback-row-phone' }, text: cb.phone }),
      h('span', {
        class: 'badge',
        dataset: { testid: 'callback-row-status' },
        text: STATUS_TEXT[cb.status] || cb.status,
      }),
      h('span', { class: 'muted', text: [cb.queue, when, attempts].filter(Boolean).join(' · ') }),
      cb.reason ? h('span', { class: 'callback-reason', dataset: { testid: 'callback-row-reason' }, text: cb.reason }) : null,
      waiting
        ? h('button', {
            type: 'button',
            class: 'btn ok',
            dataset: { testid: 'callback-take' },
            text: 'Take now',
            on: { click: (ev) => this.#take(cb.contact, ev.currentTarget) },
          })
        : null,
    );
  }

  async #take(contact, button) {
    button.disabled = true;
    try {
      await api(`/api/v1/callbacks/${contact}/take`, { method: 'POST' });
    } catch (e) {
      this.#problem(`Cannot take this callback: ${e.message}`);
    }
    await this.refresh();
  }
}
