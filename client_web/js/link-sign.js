// The expert's "weak connection" sign over the customer's video: the customer's page reports its
// link (link-adapt.js, `link_quality`), and the sign shows the figures while the link is weak
// (docs/customer-page.md, "Weak links").

/** A sign with no new report for this long is taken down: the page stopped reporting (it dropped). */
export const LINK_SIGN_STALE_MS = 6000;

/**
 * The sign's words for one report: what reaches the server from the customer, per second.
 * @param {{sent_kbps?: number, video_fps: number, video_width: number, video_height: number,
 *          loss_pct?: number, rtt_ms?: number}} m
 */
export function linkSignText(m) {
  const figures = [];
  if (typeof m.sent_kbps === 'number') figures.push(`${Math.round(m.sent_kbps)} kbit/s`);
  figures.push(`${Math.round(m.video_fps)} fps`);
  if (m.video_width && m.video_height) figures.push(`${m.video_width}x${m.video_height}`);
  if (typeof m.loss_pct === 'number') figures.push(`${Math.round(m.loss_pct)}% loss`);
  if (typeof m.rtt_ms === 'number' && m.rtt_ms >= 300) figures.push(`${Math.round(m.rtt_ms)} ms delay`);
  return `Weak connection: ${figures.join(', ')}`;
}

/**
 * Show the customer's link on `node` while it is weak; hide it when a report says it is good, when
 * reports stop, or when the customer is no longer joined.
 * @param {import('./peer.js').PeerSession} live
 * @param {HTMLElement} node
 */
export function bindLinkSign(live, node) {
  let timer = null;
  const hide = () => {
    node.hidden = true;
    node.textContent = '';
  };
  live.signaling.on('link_quality', (m) => {
    clearTimeout(timer);
    if (!m.weak) {
      hide();
      return;
    }
    node.textContent = linkSignText(m);
    node.title = 'The customer\'s network is slow: their video is sent smaller and slower so that the voices keep going.';
    node.hidden = false;
    timer = setTimeout(hide, LINK_SIGN_STALE_MS);
  });
  live.signaling.on('presence', (m) => {
    if (m.role === 'customer' && m.status !== 'joined') {
      clearTimeout(timer);
      hide();
    }
  });
}
