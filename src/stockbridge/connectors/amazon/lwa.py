"""Login with Amazon: an access token from the refresh-token grant, kept until shortly
before it expires.

SP-API calls carry the token in `x-amz-access-token`; it lasts an hour. One refresh runs
at a time however many requests wait for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from .config import LwaCredentials

#: Refresh this long before the token's end (or a tenth of its life, if shorter), so a
#: request never leaves with a token that expires on the way.
REFRESH_MARGIN_SECONDS = 60.0


class TokenError(Exception):
    """No token: LWA refused the credentials or could not be reached (`reason` says which)."""

    def __init__(self, reason: str, *, refused: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        #: LWA answered and said no (bad client or refresh token), as opposed to no answer.
        self.refused = refused


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    #: When to stop using it (the clock's seconds), margin included.
    refresh_at: float


def refresh_at(now: float, expires_in: float) -> float:
    """When a token granted at `now` for `expires_in` seconds should be replaced."""
    return now + expires_in - min(REFRESH_MARGIN_SECONDS, expires_in / 10)


class LwaTokens:
    """The access token of one set of credentials, refreshed before it expires."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.token: AccessToken | None = None
        self.refreshes = 0
        self._lock = asyncio.Lock()

    def invalidate(self, value: str) -> None:
        """Forget `value` (the platform called it expired or invalid)."""
        if self.token is not None and self.token.value == value:
            self.token = None

    async def get(self, client: httpx.AsyncClient, creds: LwaCredentials, timeout: float) -> str:
        """A valid access token, asking LWA only when the one held is near its end.

        Raises TokenError.
        """
        token = self.token
        if token is not None and self.clock() < token.refresh_at:
            return token.value
        async with self._lock:
            token = self.token
            if token is not None and self.clock() < token.refresh_at:
                return token.value
            self.token = await self._grant(client, creds, timeout)
            self.refreshes += 1
            return self.token.value

    async def _grant(
        self, client: httpx.AsyncClient, creds: LwaCredentials, timeout: float
    ) -> AccessToken:
        asked_at = self.clock()
        try:
            response = await client.post(
                creds.token_url,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": creds.refresh_token,
                    "client_id": creds.client_id,
                    "client_secret": creds.client_secret,
                },
                timeout=timeout,
            )
        except httpx.HTTPError as e:
            raise TokenError(f"LWA unreachable: {type(e).__name__}: {e}", refused=False) from e
        if response.status_code >= 500 or response.status_code == 429:
            raise TokenError(f"LWA answered {response.status_code}", refused=False)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error", "") if isinstance(body, dict) else ""
            detail = body.get("error_description", "") if isinstance(body, dict) else ""
            raise TokenError(
                f"LWA refused the refresh token ({response.status_code} {error}: {detail})",
                refused=True,
            )
        value, expires_in = body.get("access_token"), body.get("expires_in", 3600)
        if not isinstance(value, str) or not isinstance(expires_in, int | float):
            raise TokenError("LWA answered without an access token", refused=False)
        return AccessToken(value, refresh_at(asked_at, float(expires_in)))
