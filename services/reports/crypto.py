"""Sealed boxes (libsodium via PyNaCl) for everything a reporter tells us.

Anyone holding the public key can seal; only the private key opens. The bot process is configured
with the public key alone, so a compromised bot host cannot read past reports, nor anything a
reporter wrote later; handler messages for a reporter are sealed to a key derived from her
receipt. Every ciphertext is stored with the id of the key that sealed it, so keys can rotate: new
reports use the new public key, and the console keeps old private keys
(``REPORT_OLD_PRIVATE_KEYS``) to open older ones.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox

from bot.i18n import N_
from services.errors import DomainError
from workvoice.kernel.settings import ConfigError, Settings


class CannotDecrypt(DomainError):
    code = "cannot_decrypt"
    status = 503
    message = N_("This server cannot open reports: its private key is not configured.")


def key_id(public: PublicKey) -> str:
    return hashlib.sha256(bytes(public)).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def generate_pair() -> tuple[str, str]:
    """A new (public, private) pair as base64, for ``workvoice keys generate``."""
    private = PrivateKey.generate()
    return _b64(bytes(private.public_key)), _b64(bytes(private))


@dataclass(frozen=True)
class _KeySettings:
    data_dir: Path
    report_public_key: str | None
    report_private_key: str | None
    report_old_private_keys: str | None


@dataclass
class KeyRing:
    public: PublicKey
    private: dict[str, PrivateKey] = field(default_factory=dict)  # key id -> private key

    @property
    def current_id(self) -> str:
        return key_id(self.public)

    def seal(self, plaintext: bytes) -> bytes:
        return SealedBox(self.public).encrypt(plaintext)

    def seal_text(self, text: str) -> bytes:
        return self.seal(text.encode("utf-8"))

    def open(self, ciphertext: bytes, kid: str) -> bytes:
        private = self.private.get(kid)
        if private is None:
            raise CannotDecrypt()
        try:
            return SealedBox(private).decrypt(ciphertext)
        except CryptoError:
            raise CannotDecrypt() from None

    def open_text(self, ciphertext: bytes, kid: str) -> str:
        return self.open(ciphertext, kid).decode("utf-8")

    @property
    def can_open(self) -> bool:
        return self.current_id in self.private


def _load_private(value: str) -> PrivateKey:
    return PrivateKey(base64.b64decode(value.strip()))


def keyring(settings: Settings) -> KeyRing:
    """The configured keys, or a pair kept in the data directory when none is configured.

    Only the demo or a process on loopback may generate that pair (``Settings.generates_secrets``);
    the bot and console processes are refused at start without their keys (``require_secrets``),
    so a bot given only the public key never makes a private key of its own (M10).
    Cached per configuration: handlers call this on every report without reading files again.
    """
    secret = settings.report_private_key.get_secret_value() if settings.report_private_key else None
    old = (
        settings.report_old_private_keys.get_secret_value()
        if settings.report_old_private_keys
        else None
    )
    return _keyring(
        str(settings.data_dir.resolve()),
        settings.report_public_key,
        secret,
        old,
        settings.generates_secrets,
    )


@cache
def _keyring(
    data_dir: str,
    public_key: str | None,
    private_key: str | None,
    old_keys: str | None,
    may_generate: bool = True,
) -> KeyRing:
    settings = _KeySettings(Path(data_dir), public_key, private_key, old_keys)
    if settings.report_public_key or settings.report_private_key:
        privates = []
        if settings.report_private_key is not None:
            privates.append(_load_private(settings.report_private_key))
        if settings.report_old_private_keys is not None:
            privates += [
                _load_private(v) for v in settings.report_old_private_keys.split(",") if v.strip()
            ]
        public = (
            PublicKey(base64.b64decode(settings.report_public_key))
            if settings.report_public_key
            else privates[0].public_key
        )
        return KeyRing(public, {key_id(p.public_key): p for p in privates})
    path = settings.data_dir / "report_key"
    if path.exists():
        private = _load_private(path.read_text())
    elif not may_generate:
        raise ConfigError(
            "WORKVOICE_REPORT_PUBLIC_KEY: not set (the bot needs the public key, the console the "
            "private one; make a pair with `workvoice keys generate`)"
        )
    else:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        private = PrivateKey.generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(_b64(bytes(private)))
    return KeyRing(private.public_key, {key_id(private.public_key): private})


def reporter_box(secret_key: str) -> SecretBox:
    """The bot-readable copy of what a handler writes *to* a reporter, for the two cases where the
    receipt-derived key (below) cannot serve: a reporter who chose to follow up in this chat (she
    opens her case with a button, no receipt) and cases from before receipt-derived keys (kept
    until their reporter next types the receipt). Anyone with SECRET_KEY and the database can read
    these; never use it for what a reporter wrote."""
    return SecretBox(hashlib.sha256(f"workvoice:reporter-messages:{secret_key}".encode()).digest())


def seal_for_reporter(secret_key: str, text: str) -> str:
    return base64.b64encode(reporter_box(secret_key).encrypt(text.encode("utf-8"))).decode()


def open_for_reporter(secret_key: str, sealed: str) -> str:
    try:
        return reporter_box(secret_key).decrypt(base64.b64decode(sealed)).decode("utf-8")
    except (CryptoError, ValueError):
        raise CannotDecrypt() from None


# --- keys the reporter holds -------------------------------------------------------------------
# Handler -> reporter messages are sealed to a public key stored on the case whose private half is
# derived from the receipt: the bot can open them only in the moment the worker types it, never at
# rest (DESIGN §4 rule 3). Argon2id over the receipt with a per-case random salt makes each guess
# costly; note that a holder of SECRET_KEY can still test receipts through the HMAC lookup key, so
# at rest this is as strong as 16 random digits against that HMAC, no stronger.
REPORTER_SALT_BYTES = 16


def new_reporter_salt() -> bytes:
    return os.urandom(REPORTER_SALT_BYTES)


def reporter_private_key(digits: str, salt: bytes) -> PrivateKey:
    """The reporter's X25519 key for one case, from the receipt digits (CPU-bound: ~0.1 s)."""
    seed = hash_secret_raw(
        digits.encode(),
        salt,
        time_cost=3,
        memory_cost=32 * 1024,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
    )
    return PrivateKey(seed)


def seal_to(public_key: bytes, text: str) -> str:
    """Text sealed to a raw public key (a reporter's), as base64 for a JSON detail field."""
    return _b64(SealedBox(PublicKey(public_key)).encrypt(text.encode("utf-8")))


def open_with(private: PrivateKey, sealed: str) -> str:
    try:
        return SealedBox(private).decrypt(base64.b64decode(sealed)).decode("utf-8")
    except (CryptoError, ValueError):
        raise CannotDecrypt() from None
