"""Session leases in Redis: who holds a session, taken atomically and renewed by the holder.

A session's owner key names the node that holds it, with the lease as its expiry. The first join
takes it with ``SET NX`` (so two joins at once agree on one owner), the owner renews it while the
session is open, and releases it after the session's row says ``ended``. A survivor may take the key
of a session whose owner died only once the lease ran out (``SET NX`` again), so it never ends a
call another live process is still carrying.
"""

from __future__ import annotations

from typing import Any

from .keys import Keys

# Renew if mine, take if free (a Redis restart lost it), refuse if another's: 1 held, 0 lost.
HOLD = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# Take a free session for node ARGV[1] and count it in its load at once (so a burst of first joins
# spreads before the next heartbeat); returns the owner, new or old.
CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('ZINCRBY', KEYS[2], 1, ARGV[1])
  return ARGV[1]
end
return redis.call('GET', KEYS[1])
"""

# Delete only if it still names ARGV[1] (a lease or a lock given up by its holder alone).
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# Extend only if it still names ARGV[1].
EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class Ownership:
    """The lease operations on one Redis connection pool, for one node."""

    def __init__(self, redis: Any, keys: Keys, node_id: str, lease_s: float) -> None:
        self.redis = redis
        self.keys = keys
        self.node_id = node_id
        self.lease_ms = int(lease_s * 1000)
        self._claim = redis.register_script(CLAIM)
        self._hold = redis.register_script(HOLD)
        self._release = redis.register_script(RELEASE)

    async def owner(self, session_id: str) -> str | None:
        found = await self.redis.get(self.keys.owner(session_id))
        return str(found) if found is not None else None

    async def claim_for(self, session_id: str, node_id: str) -> str | None:
        """Give a free session to ``node_id``; returns whoever holds it now (None: freed meanwhile)."""
        found = await self._claim(
            keys=[self.keys.owner(session_id), self.keys.load], args=[node_id, self.lease_ms]
        )
        return str(found) if found is not None else None

    async def hold(self, session_id: str) -> bool:
        return bool(await self._hold(keys=[self.keys.owner(session_id)], args=[self.node_id, self.lease_ms]))

    async def release(self, session_id: str) -> bool:
        released = bool(await self._release(keys=[self.keys.owner(session_id)], args=[self.node_id]))
        if released:
            await self.redis.zincrby(self.keys.load, -1, self.node_id)
        return released

    async def take_over(self, session_id: str) -> bool:
        """Take a session nobody holds (its owner died and the lease ran out)."""
        return bool(
            await self.redis.set(self.keys.owner(session_id), self.node_id, nx=True, px=self.lease_ms)
        )
