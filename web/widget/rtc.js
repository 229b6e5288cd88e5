/**
 * WebRTC helpers shared by the visitor's call window, the console and the
 * supervisor's live view. It lives under /widget/ because the public listener
 * serves only that; the agent listener serves it at the same path.
 */

/** Opus (and DTMF) for audio, VP8 for video: what the server relays without
 * transcoding; it also halves the size of Chrome's offer. */
export function preferCodecs(transceiver, kind) {
  const caps = RTCRtpReceiver.getCapabilities?.(kind)?.codecs;
  if (!caps || !transceiver.setCodecPreferences) return;
  const keep = caps.filter((c) =>
    kind === 'audio'
      ? /^audio\/(opus|telephone-event)$/i.test(c.mimeType) && c.clockRate === 48000
      : /^video\/vp8$/i.test(c.mimeType),
  );
  if (!keep.length) return;
  try {
    transceiver.setCodecPreferences(keep);
  } catch {
    /* keep the browser's defaults */
  }
}
