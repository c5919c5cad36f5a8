"""JSON over HTTP for the two server engines (llama-server, OpenAI-compatible): one place that
checks the URL, opens a request, turns an unreachable or refusing server into one line, and
reads a server-sent event stream. Standard library only.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

from pipeline.errors import UsageError


class ServerError(UsageError):
    """The server cannot be reached or refused the request: one line, no traceback."""


class RequestRefused(ServerError):
    """The server answered 4xx: the request itself is wrong, so another server would refuse it too."""


def error_message(detail: str) -> str:
    """The message of a server's JSON error body (llama-server's and OpenAI's shape), else the text."""
    try:
        error = json.loads(detail).get("error", {})
        return str(error.get("message", detail)) if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        return detail[:200] or "(no body)"


class JsonServer:
    """A server at `url`, named `who` in messages ("llama-server", "the server")."""

    def __init__(self, url: str, *, who: str, timeout_s: float,
                 headers: dict[str, str] | None = None) -> None:
        parsed = urllib.parse.urlsplit(url if "//" in url else f"http://{url}")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ServerError(f"--server-url {url!r} is not an http:// URL")
        self.url = url
        self.who = who
        self.timeout_s = timeout_s
        self._parsed = parsed
        self._headers = dict(headers or {})

    def open(self, method: str, endpoint: str, body: dict[str, Any] | None = None) -> tuple[
            http.client.HTTPConnection, http.client.HTTPResponse]:
        """A 200 response to `method endpoint` and its connection (the caller closes it)."""
        cls = http.client.HTTPSConnection if self._parsed.scheme == "https" else http.client.HTTPConnection
        connection = cls(self._parsed.hostname or "", self._parsed.port, timeout=self.timeout_s)
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        headers = dict(self._headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, self._parsed.path.rstrip("/") + endpoint, body=payload,
                               headers=headers)
            response = connection.getresponse()
        except OSError as error:
            connection.close()
            raise ServerError(f"{self.who} at {self.url} is unreachable ({error}); start it or fix "
                              "--server-url") from None
        if response.status != 200:
            detail = response.read(2000).decode("utf-8", "replace").strip()
            connection.close()
            refused = RequestRefused if 400 <= response.status < 500 else ServerError
            raise refused(f"{self.who} at {self.url} answered {response.status} to {endpoint}: "
                          f"{error_message(detail)}")
        return connection, response

    def json(self, method: str, endpoint: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request, its whole JSON answer."""
        connection, response = self.open(method, endpoint, body)
        try:
            return json.loads(response.read())
        finally:
            connection.close()

    def events(self, response: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
        """The `data:` events of a server-sent event stream, until `[DONE]` or its end.

        An `error:` line (llama-server) or an event holding "error" raises ServerError.
        """
        for raw_line in _lines(response, f"{self.who} at {self.url}"):
            line = raw_line.decode("utf-8", "replace").strip()
            if line.startswith("error:"):
                raise ServerError(f"{self.who}: {error_message(line[6:].strip())}")
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                return
            event = json.loads(payload)
            if "error" in event:
                raise ServerError(f"{self.who}: {error_message(json.dumps(event))}")
            yield event


def _lines(response: http.client.HTTPResponse, who: str) -> Iterator[bytes]:
    """The response's lines; a connection cut mid-stream (a server killed) is one ServerError."""
    try:
        yield from response
    except (OSError, http.client.HTTPException) as error:
        raise ServerError(f"{who} broke off the stream ({type(error).__name__}: {error})") from None
