/**
 * The call controls above a voice or video conversation in the console: state,
 * timer, recording mark, the videos, mute, hold/resume, blind transfer (to a queue
 * or an agent from `hello.transfer`), hang up, and the "Visitor's media" panel that
 * asks the visitor's browser to change its audio settings (`media_control`).
 *
 * The panel is static markup in index.html (`#call-panel`); `show(conv)` fills it
 * for the selected conversation. A conversation's call fields (set by console.js):
 *   media ('voice'|'video'), call (AgentCall|null), callState ('connecting',
 *   'connected', 'on_hold', 'ended'), recording, connectedAt, endedAt,
 *   mc = {values, dirty:Set, result}
 */
import { h } from '/common/dom.js';

const $ = (id) => document.getElementById(id);
const MEDIA_NAME = { voice: 'Voice call', video: 'Video call' };
const STATE_TEXT = {
  connecting: 'Connecting…',
  connected: 'Connected',
  on_hold: 'On hold',
  transferring: 'Transferring…',
  ended: 'Call ended',
};
/** The visitor's media settings: form control id -> [setting, kind]. */
const CONTROLS = {
  'mc-echo': ['echo_cancellation', 'bool'],
  'mc-noise': ['noise_suppression', 'bool'],
  'mc-agc': ['auto_gain_control', 'bool'],
  'mc-mic-gain': ['mic_gain', 'number'],
  'mc-speaker': ['speaker_volume', 'number'],
};
const SETTING_NAME = {
  echo_cancellation: 'echo cancellation',
  noise_suppression: 'noise suppression',
  auto_gain_control: 'auto gain',
  mic_gain: 'mic gain',
  speaker_volume: 'speaker volume',
};
export const DEFAULT_MEDIA = {
  echo_cancellation: true,
  noise_suppression: true,
  auto_gain_control: true,
  mic_gain: 1,
  speaker_volume: 1,
};

/** `echo cancellation off, speaker volume 50%` */
export function describeSettings(settings) {
  return Object.entries(settings || {})
    .filter(([k]) => k in SETTING_NAME)
    .map(([k, v]) => `${SETTING_NAME[k]} ${typeof v === 'boolean' ? (v ? 'on' : 'off') : `${Math.round(Number(v) * 100)}%`}`)
    .join(', ');
}

export function isCall(media) {
  return media === 'voice' || media === 'video';
}

export class CallPanel {
  /**
   * @param {{send:(f:object)=>boolean, reconnect:(conv:object)=>void, problem:(msg:string)=>void}} actions
   */
  constructor(actions) {
    this.actions = actions;
    this.conv = null;
    this.targets = { queues: [], agents: [] };
    this.mediaControl = false;
    this.self = '';
    this.section = $('call-panel');
    this.timer = $('call-timer');
    setInterval(() => this.tick(), 1000);

    $('call-mute').addEventListener('click', () => {
      const call = this.conv?.call;
      if (call) call.setMuted(!call.muted);
      this.render();
    });
    $('call-hold').addEventListener('click', () => {
      const conv = this.conv;
      if (!conv) return;
      this.sendOrSay({ type: 'hold', contact: conv.id, on: conv.callState !== 'on_hold' });
    });
    $('call-hangup').addEventListener('click', () => {
      if (this.conv) this.sendOrSay({ type: 'end', contact: this.conv.id });
    });
    $('call-reconnect').addEventListener('click', () => this.conv && this.actions.reconnect(this.conv));
    $('call-transfer-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const conv = this.conv;
      const [kind, name] = $('call-transfer-target').value.split(/:(.*)/s);
      if (!conv || !name || (kind !== 'queue' && kind !== 'agent')) return;
      if (this.sendOrSay({ type: 'transfer', contact: conv.id, [kind]: name })) {
        conv.transferTo = $('call-transfer-target').selectedOptions[0]?.textContent || name;
        this.render();
      }
    });
    const form = $('media-control');
    form.addEventListener('input', (ev) => this.noteControl(ev.target));
    form.addEventListener('change', (ev) => this.noteControl(ev.target));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const conv = this.conv;
      if (!conv) return;
      const settings = {};
      for (const key of conv.mc.dirty) settings[key] = conv.mc.values[key];
      if (!Object.keys(settings).length) {
        conv.mc.result = 'Change a setting first.';
      } else if (this.sendOrSay({ type: 'media_control', contact: conv.id, settings })) {
        conv.mc.result = `Asked the visitor: ${describeSettings(settings)}…`;
        conv.mc.dirty.clear();
      }
      this.render();
    });
  }

  /** Transfer targets and whether remote media control is allowed, from `hello`. */
  configure(hello) {
    const t = hello.transfer || {};
    this.self = hello.agent?.name || '';
    this.targets = {
      queues: Array.isArray(t.queues) ? t.queues : [],
      agents: (Array.isArray(t.agents) ? t.agents : []).filter((a) => a.name !== this.self),
    };
    this.mediaControl = !!hello.media_control;
    $('call-transfer-target').replaceChildren(
      h('option', { value: '', text: 'Choose…', disabled: true, selected: true }),
      this.targets.queues.length
        ? h('optgroup', { label: 'Queues' },
          this.targets.queues.map((q) => h('option', { value: `queue:${q.name}`, text: q.name })))
        : null,
      this.targets.agents.length
        ? h('optgroup', { label: 'Agents' },
          this.targets.agents.map((a) => h('option', { value: `agent:${a.name}`, text: a.display_name || a.name })))
        : null,
    );
  }

  /** Shows the call of the selected conversation (or hides the panel). */
  show(conv) {
    this.conv = conv && isCall(conv.media) ? conv : null;
    this.render();
  }

  sendOrSay(frame) {
    if (this.actions.send(frame)) return true;
    this.actions.problem('Not connected; try again in a moment.');
    return false;
  }

  noteControl(input) {
    const conv = this.conv;
    const spec = CONTROLS[input.id];
    if (!conv || !spec) return;
    const [key, kind] = spec;
    conv.mc.values[key] = kind === 'bool' ? input.checked : Number(input.value);
    conv.mc.dirty.add(key);
    if (kind === 'number') this.showValue(input);
  }

  showValue(input) {
    const out = input.parentElement.querySelector('output');
    if (out) out.textContent = `${Math.round(Number(input.value) * 100)}%`;
  }

  tick() {
    const conv = this.conv;
    if (!conv?.connectedAt) {
      this.timer.textContent = '00:00';
      return;
    }
    const s = Math.max(0, Math.floor(((conv.endedAt || Date.now()) - conv.connectedAt) / 1000));
    const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
    const ss = String(s % 60).padStart(2, '0');
    this.timer.textContent = s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  render() {
    const conv = this.conv;
    this.section.hidden = !conv;
    if (!conv) {
      $('call-videos').replaceChildren();
      return;
    }
    const call = conv.call;
    const live = conv.state === 'connected' && conv.callState !== 'ended';
    this.section.dataset.state = live ? conv.callState || 'connecting' : 'ended';
    $('call-kind').textContent = MEDIA_NAME[conv.media];
    let status = live ? STATE_TEXT[conv.callState] || STATE_TEXT.connecting : STATE_TEXT.ended;
    if (live && conv.transferTo && conv.callState !== 'ended') status = `Transferring to ${conv.transferTo}…`;
    // A routing point: the visitor was lent a number and has yet to call it.
    const dialIn = conv.screenpop?.dial_in?.number;
    if (live && dialIn && (conv.callState || 'connecting') === 'connecting') {
      status = `Waiting for the visitor to call ${dialIn} from their own phone…`;
    }
    if (live && call?.error) status = call.error;
    if (live && !call) status = 'This window has no audio for the call (it was reloaded).';
    $('call-status').textContent = status;
    $('call-status').classList.toggle('error', live && (!call || !!call.error));
    $('call-rec').hidden = !conv.recording;
    this.tick();

    const videos = $('call-videos');
    videos.hidden = conv.media !== 'video' || !call || call.closed;
    if (!videos.hidden && videos.firstChild !== call.remoteVideo) videos.replaceChildren(call.remoteVideo, call.localVideo);
    if (videos.hidden) videos.replaceChildren();

    $('call-controls').hidden = !live;
    const mute = $('call-mute');
    mute.hidden = !call || !!call.error;
    mute.textContent = call?.muted ? 'Unmute' : 'Mute';
    mute.setAttribute('aria-pressed', String(!!call?.muted));
    const hold = $('call-hold');
    const onHold = conv.callState === 'on_hold';
    hold.textContent = onHold ? 'Resume' : 'Hold';
    hold.setAttribute('aria-pressed', String(onHold));
    hold.disabled = !(conv.callState === 'connected' || onHold);
    $('call-reconnect').hidden = !live || (!!call && !call.error);

    const canTransfer = live && (this.targets.queues.length || this.targets.agents.length);
    $('call-transfer-form').hidden = !canTransfer;
    $('call-transfer').disabled = !!conv.transferTo;

    const mc = $('media-control');
    mc.hidden = !(live && this.mediaControl);
    if (!mc.hidden) {
      for (const [id, [key, kind]] of Object.entries(CONTROLS)) {
        const input = $(id);
        if (kind === 'bool') input.checked = !!conv.mc.values[key];
        else {
          input.value = String(conv.mc.values[key]);
          this.showValue(input);
        }
      }
      $('mc-result').textContent = conv.mc.result || '';
    }
  }
}
