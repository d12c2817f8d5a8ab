"""Live media: aiortc peer connections, forwarding, decoding for vision and burn-in."""
