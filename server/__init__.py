"""RepairSight server: the imperative shell (app factory, auth, API, pages, WebSocket, media, CLI)."""
