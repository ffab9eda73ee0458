"""The trust policy document (``govctl.trust/v1``): signers with roles and expiry, and the
k-of-n requirement each action must meet (the defaults are :data:`DEFAULT_REQUIREMENTS`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from govctl import clock
from govctl.errors import InputError, IntegrityError, NotFound
from govctl.signing.dsse import b64d
from govctl.signing.keys import key_id
from govctl.trust.constants import (
    DEFAULT_REQUIREMENTS,
    DEFAULT_VALIDITY,
    ROLE_RE,
    ROLES,
    SCHEMA,
    TRUST_UPDATE,
)

__all__ = ["DEFAULT_REQUIREMENTS", "DEFAULT_VALIDITY", "ROLES", "ROLE_RE", "SCHEMA",
           "TRUST_UPDATE", "Requirement", "Signer", "TrustPolicy"]

class Signer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    key_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    public_key: str
    roles: list[str] = Field(min_length=1)
    valid_until: str | None = None

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: list[str]) -> list[str]:
        for role in roles:
            if not ROLE_RE.match(role):
                raise ValueError(f"invalid role id {role!r}")
        if len(set(roles)) != len(roles):
            raise ValueError("a role is listed twice")
        return roles

    @model_validator(mode="after")
    def _key(self) -> Signer:
        try:
            raw = b64d(self.public_key, "public_key")
        except IntegrityError:
            raise ValueError("public_key is not base64") from None
        if len(raw) != 32:
            raise ValueError("public_key must be a raw 32-byte Ed25519 key in base64")
        if key_id(raw) != self.key_id:
            raise ValueError("key_id is not the SHA-256 of public_key")
        if self.valid_until is not None:
            clock.parse_time(self.valid_until)
        return self

    @property
    def public_raw(self) -> bytes:
        return b64d(self.public_key, "public_key")

    def active(self, at: datetime) -> bool:
        return self.valid_until is None or clock.parse_time(self.valid_until) > at


class Requirement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: dict[str, int] = Field(default_factory=dict)
    any_of: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> Requirement:
        if not self.roles and not self.any_of:
            raise ValueError("a requirement needs 'roles' (thresholds) or 'any_of'")
        for role, count in self.roles.items():
            if not ROLE_RE.match(role):
                raise ValueError(f"invalid role id {role!r}")
            if count < 1:
                raise ValueError(f"threshold for {role!r} must be at least 1")
        return self


class TrustPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: str = Field(SCHEMA, alias="schema")
    version: int = Field(ge=1)
    expires: str
    signers: list[Signer]
    requirements: dict[str, Requirement]

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: str) -> str:
        if value != SCHEMA:
            raise ValueError(f"unsupported schema {value!r}, expected {SCHEMA!r}")
        return value

    @field_validator("expires")
    @classmethod
    def _expires(cls, value: str) -> str:
        try:
            clock.parse_time(value)
        except ValueError:
            raise ValueError("not an ISO 8601 time") from None
        return value

    @model_validator(mode="after")
    def _unique(self) -> TrustPolicy:
        for attr in ("name", "key_id", "public_key"):
            values = [getattr(s, attr) for s in self.signers]
            dup = {v for v in values if values.count(v) > 1}
            if dup:
                raise ValueError(f"signers share a {attr}: {sorted(dup)[0]}")
        if TRUST_UPDATE not in self.requirements:
            raise ValueError(f"requirements must define {TRUST_UPDATE!r}")
        return self

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)

    def signer(self, name: str) -> Signer:
        for s in self.signers:
            if s.name == name:
                return s
        raise NotFound(f"no signer named {name!r} in trust policy version {self.version}")

    def signer_by_key(self, kid: str) -> Signer | None:
        for s in self.signers:
            if s.key_id == kid:
                return s
        return None

    def requirement(self, action: str) -> Requirement:
        req = self.requirements.get(action)
        if req is None:
            raise InputError(f"the trust policy has no requirement for {action!r}")
        return req

    @property
    def expires_at(self) -> datetime:
        return clock.parse_time(self.expires)
