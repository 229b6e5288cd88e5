/*!
 * Switchboard widget loader.
 *
 *   <script src="https://HOST/widget.js" data-tenant="demo" data-link="sales" async></script>
 *
 * Optional attributes: data-identity (merchant-signed JWT), data-name and
 * data-email (unsigned, shown to agents as unverified), data-region (routes to
 * the nearest call center), data-label (button text).
 *
 * The loader stays small (a test holds it to 10 KB gzipped): it records the pages
 * visited in this session, draws a launcher in a Shadow DOM, keeps the visitor
 * WebSocket open for live availability, and imports the chat panel (widget/app.js)
 * on first click, or at once when a conversation resumes after a navigation.
 * The tag may appear several times on a page: one launcher per tag.
 * When an agent on the phone pushes a page (`push_page`), the loader shows a
 * notice with the link and then opens it in this tab (the call lives on in the
 * call window).
 */
(() => {
  'use strict';

  /** State shared by every copy of the loader running on this page. */
  const shared = (window.__switchboard ||= { pages: null });

  const PAGES_KEY = 'sb:pages';
  /** Frames that open a conversation: fresh shared values are sent first. */
  const OPENING = new Set(['start', 'callback', 'dial_in', 'call']);
  const MAX_PAGES = 50;
  /** Frames over 4096 bytes are refused; stay below with some margin. */
  const MAX_FRAME = 3900;
  /** How long the "agent sent you a page" notice shows before the page opens. */
  const PUSH_DELAY_MS = 1500;

  /** sessionStorage that never throws (storage may be blocked or full). */
  const store = {
    get(key) {
      try {
        return JSON.parse(sessionStorage.getItem(key));
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        sessionStorage.setItem(key, JSON.stringify(value));
      } catch {
        /* storage unavailable: the widget still works, without history */
      }
    },
  };

  /** Adds this page to the session's visit list, once per page load. */
  function visitedPages() {
    if (shared.pages) return shared.pages;
    let pages = store.get(PAGES_KEY);
    if (!Array.isArray(pages)) pages = [];
    const last = pages[pages.length - 1];
    // A reload of the same page is not a new visit.
    if (!last || last.url !== location.href) {
      pages.push({ url: location.href, title: document.title, at: Date.now() });
    }
    pages = pages.slice(-MAX_PAGES);
    store.set(PAGES_KEY, pages);
    return (shared.pages = pages);
  }

  const cut = (s, n) => String(s || '').slice(0, n);
  /** Longest shared cookie or field value sent (the server keeps 256 bytes). */
  const MAX_SHARED = 256;

  /** This page's cookies by name (values decoded where they are URI-encoded). */
  function cookieJar() {
    const jar = {};
    for (const part of document.cookie ? document.cookie.split(';') : []) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const name = part.slice(0, eq).trim();
      let value = part.slice(eq + 1).trim();
      try {
        value = decodeURIComponent(value);
      } catch {
        /* not URI-encoded: keep it as it is */
      }
      if (name && !(name in jar)) jar[name] = value;
    }
    return jar;
  }

  /** The value of the form field called `name` on this page; undefined when
   * there is none. Passwords and files are never read. */
  function fieldValue(name) {
    let fields;
    try {
      fields = document.getElementsByName(name);
    } catch {
      return undefined;
    }
    for (const el of fields) {
      if (!('value' in el) || el.type === 'password' || el.type === 'file') continue;
      if ((el.type === 'radio' || el.type === 'checkbox') && !el.checked) continue;
      return el.value;
    }
    return undefined;
  }

  /** The cookies and form fields the tenant asked to share (`welcome.share`).
   * A field filled in on an earlier page of this session keeps its value on
   * pages without it (the order number typed on the cart page still counts
   * at checkout); `share.key` names where the values are kept. */
  function sharedValues(share) {
    const kept = store.get(share.key) || {};
    const out = { cookies: {}, fields: {} };
    const jar = share.cookies.length ? cookieJar() : {};
    for (const name of share.cookies) {
      if (name in jar) out.cookies[name] = cut(jar[name], MAX_SHARED);
    }
    for (const name of share.fields) {
      const value = fieldValue(name);
      if (value !== undefined && value !== '') out.fields[name] = cut(value, MAX_SHARED);
      else if (typeof (kept.fields || {})[name] === 'string') out.fields[name] = kept.fields[name];
    }
    store.set(share.key, out);
    return out;
  }

  const hasShare = (share) => !!share && (share.cookies.length > 0 || share.fields.length > 0);

  /** What the agent's screen pop shows about the visitor's browsing; with the
   * cookies and form fields the tenant named, when it named any. */
  function pageContext(share) {
    let timezone = '';
    try {
      timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    } catch {
      /* very old engines: leave it empty */
    }
    const context = {
      url: cut(location.href, 1000),
      title: cut(document.title, 200),
      referrer: cut(document.referrer, 1000),
      pages: visitedPages().map((p) => ({ url: cut(p.url, 500), title: cut(p.title, 120), at: p.at })),
      language: navigator.language || '',
      timezone,
    };
    if (hasShare(share)) context.shared = sharedValues(share);
    return context;
  }

  /** The tenant's share lists from a `welcome`, or null when malformed; `key`
   * is where this tenant's shared values are kept in the session. */
  function shareLists(value, tenant) {
    const names = (list) => (Array.isArray(list) ? list.filter((n) => typeof n === 'string') : []);
    if (!value || typeof value !== 'object') return null;
    return { cookies: names(value.cookies), fields: names(value.fields), key: `sb:shared:${tenant}` };
  }

  const byteLength = (s) => new TextEncoder().encode(s).length;

  /** Serialises a frame that carries `context`, dropping the oldest pages until it fits. */
  function encodeWithContext(frame) {
    let text = JSON.stringify(frame);
    while (byteLength(text) > MAX_FRAME && frame.context.pages.length) {
      frame.context.pages.shift();
      text = JSON.stringify(frame);
    }
    return text;
  }

  /** Human text for the availability line under the launcher. */
  function waitText(s) {
    if (s.open === false) return 'Closed now';
    if (!s.available) return 'No one available';
    const secs = Number(s.wait_seconds) || 0;
    return secs > 30 ? `Wait about ${Math.ceil(secs / 60)} min` : 'Available now';
  }

  const CSS = `
:host{all:initial;display:inline-block;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2433;--sb-accent:#2454d6;--sb-accent-ink:#fff}
.sb{display:inline-flex;flex-direction:column;align-items:flex-start;gap:4px;margin:4px 0}
.launch{display:inline-flex;align-items:center;gap:8px;border:0;border-radius:999px;padding:10px 18px;background:var(--sb-accent);color:var(--sb-accent-ink);font:inherit;font-weight:600;cursor:pointer;box-shadow:0 2px 6px rgba(0,0,0,.18)}
.launch:hover{filter:brightness(1.08)}
.launch:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}
.launch[disabled]{background:#8a93a6;cursor:not-allowed;box-shadow:none}
.dot{width:8px;height:8px;border-radius:50%;background:#c3c9d5}
.dot.on{background:#3ddc84}
.wait{font-size:12px;color:#5b6478;padding-left:6px}
.push{margin:0;max-width:320px;padding:8px 10px;border-radius:8px;background:#eaf0ff;color:#1d2433;font-size:13px;overflow-wrap:anywhere}
.push:empty{display:none}
.push a{color:var(--sb-accent)}
.share{border:0;background:none;padding:0 6px;font:inherit;font-size:12px;color:var(--sb-accent);text-decoration:underline;cursor:pointer}
`;

  /** Sets up one launcher for one script tag. */
  function init(script) {
    script.setAttribute('data-sb-init', '');
    const opts = script.dataset;
    const { tenant, link } = opts;
    if (!tenant || !link) {
      console.warn('[switchboard] widget.js needs data-tenant and data-link');
      return;
    }
    const origin = new URL(script.src || '/', location.href).origin;

    const host = document.createElement('div');
    host.className = 'switchboard-widget';
    host.dataset.sbTenant = tenant;
    host.dataset.sbLink = link;
    // Inline next to the tag when it sits in <body>, else at the end of <body>.
    if (document.body && document.body.contains(script)) script.after(host);
    else document.body.append(host);

    const root = host.attachShadow({ mode: 'open' });
    // Static markup only; every dynamic text goes through textContent.
    root.innerHTML =
      `<style>${CSS}</style><div class="sb">` +
      '<button type="button" class="launch" data-testid="sb-launcher" aria-expanded="false">' +
      '<span class="dot" aria-hidden="true"></span><span class="label"></span></button>' +
      '<span class="wait" data-testid="sb-wait" role="status" aria-live="polite">Connecting…</span>' +
      '<p class="push" data-testid="sb-push" role="status" aria-live="polite"></p></div>';
    const launcher = root.querySelector('.launch');
    const label = root.querySelector('.label');
    const dot = root.querySelector('.dot');
    const wait = root.querySelector('.wait');
    const push = root.querySelector('.push');
    // Co-browsing (widget/cobrowse.js) loads only when the visitor shares,
    // or at once when a shared session goes on after a page load.
    const cobrowse = () =>
      import(new URL('/widget/cobrowse.js', origin).href)
        .then((m) => m.start({ origin, tenant, onCode: (code) => deskPhoneCall && ctx.send({ type: 'cobrowse_code', code }) }))
        .catch((err) => console.error('[switchboard]', err));
    // The agent holding this conversation asks to see the page.
    const cobrowseInvite = () =>
      import(new URL('/widget/cobrowse.js', origin).href)
        .then((m) => m.invite({ origin, tenant, agent: agentName, reply: (f) => ctx.send(f) }))
        .catch((err) => console.error('[switchboard]', err));
    let agentName = '';
    // A call that reaches a phone listening to keys (a center's desk phone).
    let deskPhoneCall = false;
    if (!shared.share) {
      shared.share = document.createElement('button');
      shared.share.type = 'button';
      shared.share.className = 'share';
      shared.share.dataset.testid = 'sb-cobrowse-share';
      shared.share.textContent = 'Share this page';
      shared.share.addEventListener('click', cobrowse);
      root.querySelector('.sb').append(shared.share);
      try {
        if (sessionStorage.getItem(`sb:cobrowse:${tenant}`)) cobrowse();
      } catch {
        /* storage blocked: no session to carry on */
      }
    }
    const setLabel = (name) => {
      label.textContent = opts.label || `Chat with ${name || link.charAt(0).toUpperCase() + link.slice(1)}`;
    };
    setLabel();

    const resumeKey = `sb:resume:${tenant}:${link}`;
    // What the tenant lets this widget share, as the last welcome said; kept for
    // the next page's hello, which goes out before its welcome arrives.
    const shareKey = `sb:share:${tenant}`;
    let share = shareLists(store.get(shareKey), tenant);
    const listeners = new Set();
    let ws = null;
    let retries = 0;
    let retryTimer = 0;
    let pingTimer = 0;
    let unavailable = false;
    let leaving = false;
    let firstWelcome = true;
    let backlog = []; // frames since the last welcome, for an app still loading

    /** The handle given to widget/app.js. */
    const ctx = {
      root,
      host,
      launcher,
      tenant,
      link,
      origin,
      welcome: null,
      status: null,
      /** Sends a frame; false when the socket is not open. */
      send(frame) {
        if (!ws || ws.readyState !== WebSocket.OPEN) return false;
        // A conversation is about to open: the form fields as the visitor
        // filled them in by now go with it.
        if (OPENING.has(frame.type) && hasShare(share)) {
          ws.send(encodeWithContext({ v: 1, type: 'page', context: pageContext(share) }));
        }
        const msg = { v: 1, ...frame };
        ws.send(msg.context ? encodeWithContext(msg) : JSON.stringify(msg));
        return true;
      },
      /** Calls fn with the last welcome, the frames after it, then every new frame. */
      subscribe(fn) {
        if (ctx.welcome) fn(ctx.welcome);
        backlog.forEach(fn);
        backlog = [];
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
    };

    function showStatus(s) {
      ctx.status = { available: !!s.available, wait_seconds: s.wait_seconds, open: s.open, next_open: s.next_open };
      if (unavailable) return;
      wait.textContent = waitText(s);
      dot.classList.toggle('on', !!s.available);
    }

    function emit(frame) {
      if (!listeners.size && frame.type[0] !== '_') {
        backlog.push(frame);
        if (backlog.length > 200) backlog.shift();
      }
      listeners.forEach((fn) => fn(frame));
    }

    function onFrame(f) {
      switch (f.type) {
        case 'welcome':
          retries = 0;
          ctx.welcome = f;
          if (f.agent_name) agentName = String(f.agent_name);
          deskPhoneCall = !!(f.call && f.call.state !== 'ended' && f.call.keypad);
          backlog = [];
          if (f.resume) store.set(resumeKey, f.resume);
          {
            const told = shareLists(f.share, tenant);
            const changed = JSON.stringify(told) !== JSON.stringify(share);
            share = told;
            store.set(shareKey, told);
            // The hello went out without (or with other) shared values.
            if (changed && hasShare(share)) ctx.send({ type: 'page', context: pageContext(share) });
          }
          setLabel(f.link_name);
          showStatus(f);
          if (f.state === 'queued' || f.state === 'connected' || f.call) {
            // A conversation or call is open: tell the agent where the visitor
            // is now and bring the panel back.
            if (firstWelcome) {
              ctx.send({ type: 'page', context: pageContext(share) });
              openApp(true);
            }
          }
          firstWelcome = false;
          break;
        case 'status':
          showStatus(f);
          break;
        case 'error':
          if (f.code === 'unknown_tenant') {
            unavailable = true;
            wait.textContent = 'Chat unavailable';
            dot.classList.remove('on');
            launcher.disabled = true;
            ws.close();
          }
          break;
        case 'push_page':
          if (!pushPage(f)) return; // not an http(s) URL: ignored
          break;
        case 'connected':
          agentName = String(f.agent_name || '');
          break;
        case 'cobrowse_request':
          cobrowseInvite();
          break;
        case 'call_state':
          deskPhoneCall = f.state !== 'ended' && !!f.keypad;
          break;
        case 'ended':
          deskPhoneCall = false;
          break;
        case 'pong':
          return;
      }
      emit(f);
    }

    /** An agent on the phone sent the visitor a page (`push_page`): say so, then
     * open it here. The call lives in the call window, so this page may go. */
    function pushPage(f) {
      let url;
      try {
        url = new URL(f.url);
      } catch {
        return false;
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
      f.url = url.href;
      const a = document.createElement('a');
      a.href = url.href;
      a.textContent = url.href;
      a.dataset.testid = 'sb-push-link';
      push.replaceChildren('The agent sent you a page \u2014 opening ', a, '\u2026');
      // Every widget of this visitor on the page gets the frame: open it once.
      if (!shared.pushed) {
        shared.pushed = url.href;
        setTimeout(() => location.assign(url.href), PUSH_DELAY_MS);
      }
      return true;
    }

    /** The `hello` frame: page context, identity, attributes, resume token.
     * The call window (widget/call.html) sends the same one as another tab. */
    function helloFrame() {
      const hello = { type: 'hello', context: pageContext(share) };
      if (opts.identity) hello.identity = opts.identity;
      const attributes = {};
      if (opts.name) attributes.name = opts.name;
      if (opts.email) attributes.email = opts.email;
      if (opts.region) attributes.region = opts.region;
      if (attributes.name || attributes.email || attributes.region) hello.attributes = attributes;
      const resume = store.get(resumeKey);
      if (resume) hello.resume = resume;
      return hello;
    }
    ctx.hello = helloFrame;

    function connect() {
      const url = new URL('/ws/visitor', origin);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      url.searchParams.set('tenant', tenant);
      url.searchParams.set('link', link);
      const sock = (ws = new WebSocket(url));

      sock.addEventListener('open', () => {
        ctx.send(helloFrame());
        pingTimer = setInterval(() => ctx.send({ type: 'ping' }), 25000);
        emit({ type: '_link', up: true });
      });

      sock.addEventListener('message', (ev) => {
        let frame;
        try {
          frame = JSON.parse(ev.data);
        } catch {
          return;
        }
        if (frame && typeof frame.type === 'string') onFrame(frame);
      });

      sock.addEventListener('close', () => {
        clearInterval(pingTimer);
        if (ws !== sock) return;
        emit({ type: '_link', up: false });
        if (unavailable || leaving) return;
        // Never connected at all (server down, origin not allowed): say so plainly.
        wait.textContent = firstWelcome && retries >= 2 ? 'Chat unavailable' : 'Reconnecting…';
        dot.classList.remove('on');
        // Exponential backoff with jitter, capped at 30 s.
        const delay = Math.min(30000, 1000 * 2 ** retries++) * (0.5 + Math.random() / 2);
        clearTimeout(retryTimer);
        retryTimer = setTimeout(connect, delay);
      });
    }

    let app = null;
    /** Imports the chat panel once; resolves to its controller. */
    function loadApp() {
      app ||= import(new URL('/widget/app.js', origin).href)
        .then((mod) => mod.mount(ctx))
        .catch((err) => {
          app = null;
          wait.textContent = 'Chat failed to load';
          throw err;
        });
      return app;
    }
    function openApp(show) {
      loadApp()
        .then((panel) => (show ? panel.open() : panel.toggle()))
        .catch((err) => console.error('[switchboard]', err));
    }

    launcher.addEventListener('click', () => openApp(false));
    addEventListener('pagehide', () => {
      leaving = true;
      // Keep what the visitor typed here for the next page of the session.
      if (hasShare(share)) sharedValues(share);
    });
    addEventListener('pageshow', (ev) => {
      // Back/forward cache restore: the socket was closed while frozen, and a
      // page pushed earlier was already opened.
      leaving = false;
      shared.pushed = null;
      push.textContent = '';
      if (ev.persisted && (!ws || ws.readyState > WebSocket.OPEN)) connect();
    });
    connect();
  }

  /** Runs fn once <body> exists (an async tag in <head> may run before it). */
  function whenBody(fn) {
    if (document.body) fn();
    else document.addEventListener('DOMContentLoaded', fn, { once: true });
  }

  const current = document.currentScript;
  const isLoader = (s) =>
    !s.hasAttribute('data-sb-init') &&
    s.dataset.link &&
    (current ? s.src === current.src : /\/widget\.js([?#]|$)/.test(s.src));
  whenBody(() => {
    if (current && isLoader(current)) init(current);
    // Also pick up tags whose copy of the loader may never run on its own,
    // e.g. several async tags sharing one URL, or a module-typed tag.
    document.querySelectorAll('script[data-link]').forEach((s) => isLoader(s) && init(s));
  });
})();
