"""Wall-clock time as RepairSight stores and shows it: naive UTC in the database, ISO 8601 with a Z
on the wire and in event logs. The one place that formats or reads a wall-clock moment."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as the naive UTC datetime the database keeps."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime | None) -> str | None:
    """A naive UTC datetime from the database as ISO 8601 with a Z (whole seconds)."""
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


def utc_timestamp(timespec: str = "milliseconds") -> str:
    """Now, as ISO 8601 UTC with a Z: how event logs and chat lines stamp the wall clock."""
    return datetime.now(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_utc(value: object) -> datetime | None:
    """An ISO 8601 moment (``Z`` or an offset) as naive UTC; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
