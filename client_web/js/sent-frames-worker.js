// The encoded transform of the customer's video sender (frame-sync.js, openSentFramesTap): every
// encoded frame goes on untouched, and its RTP timestamp and the time it left the encoder go to
// the page, which uses them to tell which preview frame an AR state was computed on.
// A classic worker (not a module), so every browser with RTCRtpScriptTransform can run it.

/* global self */

self.onrtctransform = (event) => {
  const { readable, writable } = event.transformer;
  readable
    .pipeThrough(new TransformStream({
      transform(frame, controller) {
        const leftAt = performance.timeOrigin + performance.now();
        let rtpTimestamp = null;
        try {
          const metadata = frame.getMetadata();
          rtpTimestamp = Number.isFinite(metadata.rtpTimestamp) ? metadata.rtpTimestamp : frame.timestamp;
        } catch {
          // no metadata: the frame still goes on
        }
        controller.enqueue(frame);
        if (Number.isFinite(rtpTimestamp)) self.postMessage([rtpTimestamp, leftAt]);
      },
    }))
    .pipeTo(writable)
    .catch(() => {}); // the connection closed
};

self.postMessage('ready');
