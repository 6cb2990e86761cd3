"""Every address a command takes, parsed in one place and refused in one line before any work:
a TLC mirror's base URL, a Dask scheduler, an MLflow tracking URI and a registered model's
``models:/`` URI. Parsing only: whether something answers there is its client's business."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .errors import RideDurationError


class AddressError(RideDurationError):
    """A URL, URI or address that cannot be what it names."""


_HOST = re.compile(r"\w([\w-]*\w)?(\.\w([\w-]*\w)?)*\.?", re.ASCII)
HTTP_USAGE = "write it as http(s)://host[:port][/path]"


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _printable(text: str) -> bool:
    return text.isascii() and text.isprintable() and not any(c.isspace() for c in text)


def _netloc_problem(parts: urllib.parse.SplitResult, usage: str) -> str | None:
    """What is wrong with a URL's host[:port], if anything."""
    try:
        host = parts.hostname
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        return f"{usage} ({exc})"
    if not host:
        return usage
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "its port is not a number from 1 to 65535"
    if parts.username is not None:
        return f"{usage}, without a query, a fragment or a user name"
    written = (f"[{host}]" if ":" in host else host) + ("" if port is None else f":{port}")
    if parts.netloc.lower() != written.lower():
        return f"{usage}: {parts.netloc!r} is not host[:port]"
    if not (_HOST.fullmatch(host) or _is_ip_literal(host)):
        return f"{usage}: {host!r} is not a host name or an IP address"
    return None


def http_url_problem(url: str, usage: str = HTTP_USAGE) -> str | None:
    """Why ``url`` is not http(s)://host[:port][/path], or None."""
    if not _printable(url):
        return f"{usage}, in printable ASCII without spaces (percent-encode the rest)"
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        return f"{usage} ({exc})"
    if parts.scheme not in ("http", "https"):
        return usage
    if parts.query or parts.fragment:
        return f"{usage}, without a query, a fragment or a user name"
    return _netloc_problem(parts, usage)


BASE_URL_SOURCE = "RIDE_DURATION_BASE_URL or --base-url"


def check_base_url(url: str, source: str = BASE_URL_SOURCE) -> str:
    """A mirror's URL must be http(s)://host[:port][/path]: refuse anything else before a
    request is built from it. Returned without a trailing slash."""
    if problem := http_url_problem(str(url)):
        raise AddressError(f"base URL {url!r} ({source}): {problem}")
    return str(url).rstrip("/")


def check_scheduler(address: str) -> str:
    """A Dask scheduler's address must be tcp://host:port or tls://host:port."""
    usage = f"--scheduler {address!r}: write a Dask scheduler's address as tcp://host:8786"
    text = str(address)
    try:
        parts = urllib.parse.urlsplit(text) if _printable(text) else None
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("tcp", "tls")
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or _netloc_problem(parts, usage) is not None
        or parts.port is None
    ):
        raise AddressError(usage)
    return text


@dataclass(frozen=True)
class TrackingURI:
    """An MLflow tracking store: a SQLite file (``path``), a server (http, https), a file
    store, or Databricks."""

    uri: str
    scheme: str
    path: Path | None = None  # the database file of a sqlite store

    @property
    def is_sqlite(self) -> bool:
        return self.scheme == "sqlite"

    @property
    def is_server(self) -> bool:
        return self.scheme in ("http", "https")


TRACKING_USAGE = "write it as sqlite:///path/mlflow.db or http(s)://host:port"


def parse_tracking_uri(uri: str, source: str = "--tracking-uri") -> TrackingURI:
    """An MLflow tracking URI as ``source`` (a flag or MLFLOW_TRACKING_URI) gave it."""
    text = str(uri)

    def refuse(problem: str) -> AddressError:
        return AddressError(f"tracking URI {text!r} ({source}): {problem}")

    if not text or not _printable(text):
        raise refuse(f"{TRACKING_USAGE}, in printable ASCII without spaces")
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme == "sqlite":
        if not text.startswith("sqlite:///") or text in ("sqlite:///", "sqlite:////"):
            raise refuse(f"{TRACKING_USAGE} (a SQLite store names its file after sqlite:///)")
        return TrackingURI(text, "sqlite", Path(text.split(":///", 1)[1]))
    if scheme in ("http", "https"):
        if problem := http_url_problem(text, TRACKING_USAGE):
            raise refuse(problem)
        return TrackingURI(text.rstrip("/"), scheme)
    if scheme == "databricks":
        return TrackingURI(text, scheme)
    if scheme == "file" or (scheme == "" and text.startswith(("/", "."))):
        return TrackingURI(text, "file")
    raise refuse(TRACKING_USAGE)


MODEL_URI = re.compile(r"models:/(?P<name>[^/@\s]+)(?:@(?P<alias>[\w-]+)|/(?P<version>[0-9]+))")


@dataclass(frozen=True)
class ModelURI:
    """A registered model's version, named by alias (models:/NAME@ALIAS) or number
    (models:/NAME/VERSION)."""

    name: str
    alias: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias else self.versioned

    @property
    def versioned(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def what(self) -> str:
        return f"alias {self.alias!r}" if self.alias else f"version {self.version}"


def is_model_uri(text) -> bool:
    return str(text).startswith("models:/")


def parse_model_uri(text) -> ModelURI:
    match = MODEL_URI.fullmatch(str(text))
    if not match:
        raise AddressError(
            f"{str(text)!r}: write a registered model as models:/NAME@ALIAS or models:/NAME/VERSION"
        )
    return ModelURI(match["name"], match["alias"], match["version"])
