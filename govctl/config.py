"""The governed repository: where it is, its paths and its settings (``govctl.toml``)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govctl.errors import InputError, NotFound
from govctl.serialize import JsonFields, key

CONFIG_FILE = "govctl.toml"
STATE_DIR = ".govctl"


@dataclass
class GovernedRepo:
    root: Path
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def policies(self) -> Path:
        return self.root / "policies"

    @property
    def checklists(self) -> Path:
        return self.root / "checklists"

    @property
    def registry(self) -> Path:
        return self.root / "registry"

    @property
    def agreements(self) -> Path:
        return self.root / "agreements"

    @property
    def state(self) -> Path:
        """Local, git-ignored state: the embedded ledger and MLflow store."""
        return self.root / STATE_DIR

    @property
    def trust_file(self) -> Path:
        return self.policies / "trust.yaml"

    @property
    def trust_history(self) -> Path:
        return self.policies / "trust.history"

    def ledger_url(self) -> str:
        """``GOVCTL_LEDGER_URL``, else ``[govctl] ledger_url``, else SQLite under ``.govctl/``."""
        url = os.environ.get("GOVCTL_LEDGER_URL") or self.settings.get("ledger_url")
        if url:
            return str(url)
        return f"sqlite:///{self.state / 'ledger.db'}"

    def ledger_url_origin(self) -> str:
        """Where :meth:`ledger_url` came from, for messages."""
        if os.environ.get("GOVCTL_LEDGER_URL"):
            return "GOVCTL_LEDGER_URL"
        if self.settings.get("ledger_url"):
            return f"{CONFIG_FILE} ledger_url"
        return "the embedded store"

    def mlflow_tracking_uri(self) -> str:
        """``MLFLOW_TRACKING_URI``, else ``[govctl] mlflow_tracking_uri``, else the embedded
        SQLite store ``.govctl/mlflow.db``. Relative ``sqlite:`` paths are relative to the
        governed root (never to the current directory)."""
        return self._mlflow_uri("MLFLOW_TRACKING_URI", "mlflow_tracking_uri") or \
            self.embedded_mlflow_uri()

    def mlflow_registry_uri(self) -> str:
        """``MLFLOW_REGISTRY_URI``, else ``[govctl] mlflow_registry_uri``, else the
        tracking URI."""
        return self._mlflow_uri("MLFLOW_REGISTRY_URI", "mlflow_registry_uri") or \
            self.mlflow_tracking_uri()

    def mlflow_uri_origin(self, which: str = "tracking") -> str:
        """Where the URI came from, for messages: the variable, the setting, or embedded."""
        env, setting = f"MLFLOW_{which.upper()}_URI", f"mlflow_{which}_uri"
        if os.environ.get(env):
            return env
        if self.settings.get(setting):
            return f"{CONFIG_FILE} {setting}"
        if which == "registry":
            return self.mlflow_uri_origin("tracking")
        return "the embedded store"

    def embedded_mlflow_uri(self) -> str:
        return f"sqlite:///{self.state / 'mlflow.db'}"

    def _mlflow_uri(self, env: str, setting: str) -> str | None:
        raw = os.environ.get(env) or self.settings.get(setting)
        if not raw:
            return None
        if not isinstance(raw, str):
            raise InputError(f"{self.root / CONFIG_FILE}: {setting} must be a string")
        return resolve_sqlite(raw, self.root)

    def rel(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)


@dataclass(frozen=True)
class StoreSetting(JsonFields):
    """A store's URI (credentials redacted), the setting it came from, whether a SQLite
    file it names exists (None: not SQLite) and whether govctl makes it on first use."""

    uri: str
    origin: str = field(metadata=key("from"))
    exists: bool | None
    created_on_first_use: bool


@dataclass(frozen=True)
class Settings(JsonFields):
    """What ``govctl config`` shows: the governed root, its config file, the settings in
    it, each store's setting and the environment variables overriding them."""

    root: str
    config_file: str
    settings: dict[str, Any]
    stores: dict[str, StoreSetting]
    environment: list[str]


def describe(repo: GovernedRepo | None = None) -> Settings:
    """The settings in effect for ``repo`` (default: the governed repo containing the
    current directory) and where each came from (``govctl config``): the ledger and MLflow
    URIs with credentials redacted, and whether a SQLite store they name exists. Reads files
    only: it opens no database and imports nothing heavy."""
    if repo is None:
        repo = find_repo()
    stores: dict[str, StoreSetting] = {}
    for name, uri, origin in (
        ("ledger", repo.ledger_url(), repo.ledger_url_origin()),
        ("mlflow_tracking", repo.mlflow_tracking_uri(), repo.mlflow_uri_origin("tracking")),
        ("mlflow_registry", repo.mlflow_registry_uri(), repo.mlflow_uri_origin("registry")),
    ):
        path = sqlite_path(uri)
        embedded = origin == "the embedded store"
        # the embedded stores are made on first use; a configured file must exist
        stores[name] = StoreSetting(redact_url(uri), origin,
                                    None if path is None else path.is_file(), embedded)
    return Settings(str(repo.root), str(repo.root / CONFIG_FILE),
                    {k: redact_url(v) if isinstance(v, str) else v
                     for k, v in repo.settings.items()},
                    stores, sorted(v for v in ENV_OVERRIDES if os.environ.get(v)))


# Variables that override a govctl.toml setting (see the README, "Configuration").
ENV_OVERRIDES = ("GOVCTL_LEDGER_URL", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def load_settings(root: Path) -> dict[str, Any]:
    path = root / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    section = data.get("govctl", {})
    if not isinstance(section, dict):
        raise InputError(f"{path}: [govctl] must be a table")
    return section


def find_repo(start: Path | None = None) -> GovernedRepo:
    """The governed repo containing ``start`` (default: the current directory), like git.

    ``GOVCTL_REPO`` names it explicitly.
    """
    env = os.environ.get("GOVCTL_REPO")
    here = Path(env) if env else Path(start or Path.cwd())
    here = here.resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_FILE).is_file():
            return GovernedRepo(candidate, load_settings(candidate))
    raise NotFound(
        f"{here} is not inside a governed repo (no {CONFIG_FILE} found)",
        hint="run 'govctl init --admin NAME' to create one",
    )


def redact_url(url: str) -> str:
    """A URL fit for a message or a log: no user, password or token.

    ``scheme://user:pass@host/path?token=x`` -> ``scheme://***@host/path?token=***``. The
    userinfo ends at the *last* ``@`` before the path, so a password holding ``@`` or ``:``
    leaks nothing.
    """
    from urllib.parse import parse_qsl, urlencode

    text = str(url)
    if "://" not in text:
        return text
    scheme, rest = text.split("://", 1)
    cut = len(rest)
    for ch in "/?#":
        i = rest.find(ch, rest.rfind("@") + 1 if "@" in rest else 0)
        if i != -1:
            cut = min(cut, i)
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    if "?" in tail:
        path, _, query = tail.partition("?")
        frag = ""
        if "#" in query:
            query, _, frag = query.partition("#")
            frag = "#" + frag
        pairs = [(k, "***") for k, _ in parse_qsl(query, keep_blank_values=True)]
        tail = path + "?" + urlencode(pairs, safe="*") + frag
    return f"{scheme}://{authority}{tail}"


def redact_text(text: str) -> str:
    """Every URL inside ``text`` passed through :func:`redact_url`."""
    import re

    return re.sub(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>)]+", lambda m: redact_url(m.group(0)),
                  str(text))


def scrub(text: object, url: str) -> str:
    """``text`` (a driver's error message, say) with no part of ``url``'s user or password:
    drivers quote fragments of a URL they failed to parse (``'w0rd@host:9'``)."""
    import re

    out = redact_text(str(text))
    rest = url.split("://", 1)[-1]
    cut = min([i for i in (rest.find(c, rest.rfind("@") + 1) for c in "/?#") if i != -1]
              or [len(rest)])
    if "@" in rest[:cut]:
        userinfo = rest[:cut].rsplit("@", 1)[0]
        for piece in sorted({userinfo, *re.split(r"[:@]", userinfo)}, key=len, reverse=True):
            if piece:
                out = out.replace(piece, "***")
    return out


def resolve_sqlite(uri: str, root: Path) -> str:
    """``sqlite:///rel/x.db`` → ``sqlite:////<root>/rel/x.db``; other URIs unchanged."""
    for prefix in ("sqlite:///",):
        if uri.startswith(prefix):
            rest = uri[len(prefix):]
            if rest and not rest.startswith("/") and rest != ":memory:":
                return f"{prefix}{(root / rest).resolve()}"
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` URI (absolute after ``resolve_sqlite``), else None."""
    if uri.startswith("sqlite:///"):
        rest = uri[len("sqlite:///"):].split("?", 1)[0]
        return Path(rest) if rest and rest != ":memory:" else None
    return None


_SECRET_WORDS = ("password", "passwd", "token", "secret", "credential")
_SECRET_PARAMS = ("pwd", "key", "api_key", "apikey", "access_key", "sig", "signature")


def has_credentials(uri: str) -> bool:
    """Whether ``uri`` carries a secret: a password in its userinfo, or a query parameter
    named like one (``?token=``, ``?password=``, ``?sig=``). A user name alone is not."""
    from urllib.parse import parse_qsl

    if "://" not in uri:
        return False
    rest = uri.split("://", 1)[1]
    at = rest.rfind("@")
    authority_end = min([i for i in (rest.find(c, at + 1) for c in "/?#") if i != -1]
                        or [len(rest)])
    if at != -1 and at < authority_end and ":" in rest[:at]:
        return True
    query = rest.partition("?")[2].partition("#")[0]
    return any(k.lower() in _SECRET_PARAMS or any(w in k.lower() for w in _SECRET_WORDS)
               for k, _ in parse_qsl(query, keep_blank_values=True))
