"""The one exception the client raises for an answer that is not a success."""

from __future__ import annotations

import httpx


class WardenError(Exception):
    """An error answer of the server (or a client-side refusal): the HTTP status (None when no answer
    came), the server's error code and message, and its details."""

    def __init__(self, status: int | None, code: str, message: str, details=None):
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def of(cls, response: httpx.Response) -> "WardenError":
        """The error an answer carries (`{"error": {"code", "message", "details"}}`)."""
        try:
            error = response.json()["error"]
            return cls(response.status_code, error.get("code", "error"), error.get("message", ""), error.get("details"))
        except (ValueError, KeyError, TypeError):
            return cls(response.status_code, "error", response.text[:500])
