/**
 * The agent WebSocket (`/ws/agent` on this origin) with keepalive and reconnects.
 *
 * Events (an EventTarget):
 *   `frame`  detail = a server frame (`hello`, `offer`, `message`, ...)
 *   `link`   detail = {up: boolean} when the socket opens or drops
 * `send(frame)` adds `v:1` and returns false when the socket is not open.
 * `close()` stops for good (logout).
 */
export class AgentSocket extends EventTarget {
  #ws = null;
  #retries = 0;
  #retryTimer = 0;
  #pingTimer = 0;
  #stopped = false;

  constructor(path = '/ws/agent') {
    super();
    const url = new URL(path, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    this.url = url.href;
  }

  get open() {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  connect() {
    this.#stopped = false;
    clearTimeout(this.#retryTimer);
    const ws = new WebSocket(this.url);
    this.#ws = ws;

    ws.addEventListener('open', () => {
      this.#retries = 0;
      this.#pingTimer = setInterval(() => this.send({ type: 'ping' }), 25000);
      this.#emit('link', { up: true });
    });
    ws.addEventListener('message', (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === 'string' && frame.type !== 'pong') this.#emit('frame', frame);
    });
    ws.addEventListener('close', () => {
      clearInterval(this.#pingTimer);
      if (this.#ws !== ws) return;
      this.#emit('link', { up: false });
      if (this.#stopped) return;
      // Exponential backoff with jitter, capped at 15 s.
      const delay = Math.min(15000, 500 * 2 ** this.#retries++) * (0.5 + Math.random() / 2);
      this.#retryTimer = setTimeout(() => this.connect(), delay);
    });
  }

  send(frame) {
    if (!this.open) return false;
    this.#ws.send(JSON.stringify({ v: 1, ...frame }));
    return true;
  }

  close() {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pingTimer);
    this.#ws?.close();
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
