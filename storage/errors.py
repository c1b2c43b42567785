"""What storage raises. Not-found and conflict errors are user-facing (their message is written for
the person who acted) so that, if the service lets them through, the app's error handler answers
them ephemerally."""

from __future__ import annotations

from bot.domain.errors import NotFoundError, UserFacingError


class IncidentNotFound(NotFoundError):
    def __init__(self, incident_id: int) -> None:
        super().__init__(f"Incident #{incident_id} does not exist.")
        self.incident_id = incident_id


class TimelineEntryNotFound(NotFoundError):
    def __init__(self, entry_id: int) -> None:
        super().__init__(f"Timeline entry {entry_id} does not exist.")
        self.entry_id = entry_id


class ConcurrentUpdate(UserFacingError):
    """The row changed since it was read (``version`` moved on): re-read and retry, or tell the
    user."""

    def __init__(self, incident_id: int, expected_version: int) -> None:
        super().__init__(
            f"Incident #{incident_id} was changed by someone else meanwhile: "
            "please look at it again and retry."
        )
        self.incident_id = incident_id
        self.expected_version = expected_version


class DedupKeyInUse(UserFacingError):
    """Another incident not yet past Mitigated already holds this ``dedup_key``."""

    def __init__(self, dedup_key: str, existing_incident_id: int | None) -> None:
        where = f" (#{existing_incident_id})" if existing_incident_id is not None else ""
        super().__init__(f"An open incident{where} already exists for this alert.")
        self.dedup_key = dedup_key
        self.existing_incident_id = existing_incident_id
