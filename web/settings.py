"""Settings from the environment (see README, "Configuration"). Read once by `bootstrap`."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Settings:
    database_url: str
    secret_key: str
    allow_clock_control: bool
    processes_dir: Path
    var_dir: Path
    smtp_url: str | None
    sms_gateway_url: str | None
    demo: bool = False
    # Secret keys used before the current one (LIANXIN_PREVIOUS_SECRET_KEYS, separated by spaces): journal seals
    # made under them still verify; nothing new is made with them.
    previous_secret_keys: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        var_dir = Path(os.environ.get("LIANXIN_VAR_DIR", PROJECT_ROOT / "var"))
        values = dict(
            database_url=os.environ.get("LIANXIN_DATABASE_URL") or f"sqlite:///{var_dir / 'lianxin.db'}",
            secret_key=os.environ.get("LIANXIN_SECRET_KEY") or "",
            allow_clock_control=os.environ.get("LIANXIN_ALLOW_CLOCK_CONTROL", "") in ("1", "true", "yes"),
            processes_dir=Path(os.environ.get("LIANXIN_PROCESSES_DIR", PROJECT_ROOT / "processes")),
            var_dir=var_dir,
            smtp_url=os.environ.get("LIANXIN_SMTP_URL") or None,
            sms_gateway_url=os.environ.get("LIANXIN_SMS_GATEWAY_URL") or None,
            demo=os.environ.get("LIANXIN_DEMO", "") in ("1", "true", "yes"),
            previous_secret_keys=tuple(os.environ.get("LIANXIN_PREVIOUS_SECRET_KEYS", "").split()),
        )
        values.update(overrides)
        settings = cls(**values)
        if not settings.secret_key:
            settings.secret_key = _stored_secret(settings.var_dir)
        return settings


def _stored_secret(var_dir: Path) -> str:
    """Generated once into var/ so that sessions survive restarts of `make run`."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
