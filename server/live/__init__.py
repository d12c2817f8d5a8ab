"""Sessions in progress: the registry, each session's participants and AR, its marks, vision worker
and ``media/`` (peer connections, forwarding, decoding for vision, burn-in)."""
