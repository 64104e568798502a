"""Settings from the environment (see README, "Configuration"). Read once by `bootstrap`."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from engine import crypto

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
    # Rate limits and sessions (web/limits.py, web/auth.py): see docs/security.md.
    redis_url: str | None = None  # LIANXIN_REDIS_URL: rate-limit counters in Redis; unset: in the database
    rate_limit_prefix: str = "lianxin"  # LIANXIN_RATE_LIMIT_PREFIX: keys of the counters, 1-64 characters
    signin_failures_per_account: int = 10  # LIANXIN_SIGNIN_FAILURES_PER_ACCOUNT (3-100) per window
    signin_failures_per_address: int = 50  # LIANXIN_SIGNIN_FAILURES_PER_ADDRESS (5-10000) per window
    signin_window_minutes: int = 15  # LIANXIN_SIGNIN_WINDOW_MINUTES (1-1440)
    query_failures_per_case_address: int = 5  # LIANXIN_QUERY_FAILURES_PER_CASE_ADDRESS (1-100) per window
    query_failures_per_address: int = 20  # LIANXIN_QUERY_FAILURES_PER_ADDRESS (5-10000) per window
    query_window_minutes: int = 60  # LIANXIN_QUERY_WINDOW_MINUTES (1-1440)
    query_min_ms: int = 100  # LIANXIN_QUERY_MIN_MS (0-2000): every public query answers after at least this
    sms_inbound_per_minute: int = 600  # LIANXIN_SMS_INBOUND_PER_MINUTE (10-100000) per gateway address
    # The petitioners' portal (web/portal/, docs/portal.md): sign-in codes by SMS and online submissions.
    portal_codes_per_phone: int = 5  # LIANXIN_PORTAL_CODES_PER_PHONE (1-50): SMS codes per number and hour
    portal_codes_per_address: int = 20  # LIANXIN_PORTAL_CODES_PER_ADDRESS (5-10000): per client address and hour
    portal_submissions_per_phone: int = 5  # LIANXIN_PORTAL_SUBMISSIONS_PER_PHONE (1-50): petitions per number, day
    portal_submissions_per_address: int = 20  # LIANXIN_PORTAL_SUBMISSIONS_PER_ADDRESS (5-10000): per address, day
    portal_code_minutes: int = 10  # LIANXIN_PORTAL_CODE_MINUTES (2-30): how long an SMS sign-in code is valid
    portal_session_minutes: int = 30  # LIANXIN_PORTAL_SESSION_MINUTES (5-240): portal sign-in without activity
    token_days: int = 90  # LIANXIN_TOKEN_DAYS (1-3650): default lifetime of `lianxin token create`
    # LIANXIN_CRYPTO: the suite new journal hashes, seals, query codes and digests are made with (engine/crypto.py):
    # "std" (SHA-256 / HMAC-SHA256) or "gm" (SM3 / HMAC-SM3); see docs/security.md, 国密算法.
    crypto: str = "std"
    # The master key of parties' personal data at rest (infra/keys.py, docs/data-protection.md): LIANXIN_MASTER_KEY
    # (base64 of 16 bytes) or LIANXIN_MASTER_KEY_FILE, and the keys being rotated out (LIANXIN_PREVIOUS_MASTER_KEYS);
    # neither set: generated into var/master_key.
    master_key: str = ""
    master_key_file: str = ""
    previous_master_keys: tuple[str, ...] = ()
    # Lockout and the security log (web/signin.py, infra/security_log.py): see docs/security.md.
    lockout_failures: int = 5  # LIANXIN_LOCKOUT_FAILURES (3-20): consecutive failed sign-ins that lock an account
    lockout_minutes: int = 15  # LIANXIN_LOCKOUT_MINUTES (1-1440): how long it stays locked
    security_log_keep_days: int = 180  # LIANXIN_SECURITY_LOG_KEEP_DAYS (180-3650): rows younger are never purged
    # Exchange with the upstream petition information system (docs/exchange.md): the shared key of the signed
    # push and of the reports (LIANXIN_EXCHANGE_KEY; unset: the push is refused and nothing is reported), where the
    # reports go (LIANXIN_EXCHANGE_UPSTREAM_URL), the folder the worker polls (LIANXIN_EXCHANGE_DIR) and the
    # petition office that registers the matters (LIANXIN_EXCHANGE_UNIT).
    exchange_key: str = ""
    exchange_upstream_url: str | None = None
    exchange_dir: str = ""
    exchange_unit: str = "city_bureau"
    exchange_max_skew_seconds: int = 300  # LIANXIN_EXCHANGE_MAX_SKEW_SECONDS (30-3600): a push's timestamp vs now
    exchange_inbound_per_minute: int = 120  # LIANXIN_EXCHANGE_INBOUND_PER_MINUTE (10-100000) per address

    @classmethod
    def from_env(cls, **overrides) -> Settings:
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
            redis_url=os.environ.get("LIANXIN_REDIS_URL") or None,
            rate_limit_prefix=os.environ.get("LIANXIN_RATE_LIMIT_PREFIX") or "lianxin",
            crypto=os.environ.get(crypto.SETTING) or "std",
            master_key=os.environ.get("LIANXIN_MASTER_KEY", ""),
            master_key_file=os.environ.get("LIANXIN_MASTER_KEY_FILE", ""),
            previous_master_keys=tuple(os.environ.get("LIANXIN_PREVIOUS_MASTER_KEYS", "").split()),
            exchange_key=os.environ.get("LIANXIN_EXCHANGE_KEY", ""),
            exchange_upstream_url=os.environ.get("LIANXIN_EXCHANGE_UPSTREAM_URL") or None,
            exchange_dir=os.environ.get("LIANXIN_EXCHANGE_DIR", ""),
            exchange_unit=os.environ.get("LIANXIN_EXCHANGE_UNIT") or "city_bureau",
            **{name: _env_int(name, default) for name, default in LIMIT_DEFAULTS.items()},
        )
        values.update(overrides)
        settings = cls(**values)
        settings.check_bounds()
        if not settings.secret_key:
            settings.secret_key = _stored_secret(settings.var_dir)
        return settings

    def check_bounds(self) -> None:
        """Every bounded setting within its bounds, else one error naming the variable and its range."""
        for name, (low, high) in LIMIT_BOUNDS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"LIANXIN_{name.upper()} must be a whole number from {low} to {high}, not {value!r}")
        if not 1 <= len(self.rate_limit_prefix) <= 64:
            raise ValueError("LIANXIN_RATE_LIMIT_PREFIX must have 1 to 64 characters")
        crypto.suite(self.crypto)  # refuses a value that names no suite, naming the allowed ones

    @property
    def crypto_suite(self) -> crypto.Suite:
        return crypto.suite(self.crypto)


# Bounded whole-number settings: name -> (lowest, highest); the defaults are the dataclass's.
LIMIT_BOUNDS = {
    "signin_failures_per_account": (3, 100), "signin_failures_per_address": (5, 10000),
    "signin_window_minutes": (1, 1440), "query_failures_per_case_address": (1, 100),
    "query_failures_per_address": (5, 10000), "query_window_minutes": (1, 1440), "query_min_ms": (0, 2000),
    "sms_inbound_per_minute": (10, 100000), "token_days": (1, 3650),
    "portal_codes_per_phone": (1, 50), "portal_codes_per_address": (5, 10000),
    "portal_submissions_per_phone": (1, 50), "portal_submissions_per_address": (5, 10000),
    "portal_code_minutes": (2, 30), "portal_session_minutes": (5, 240),
    "lockout_failures": (3, 20), "lockout_minutes": (1, 1440), "security_log_keep_days": (180, 3650),
    "exchange_max_skew_seconds": (30, 3600), "exchange_inbound_per_minute": (10, 100000),
}
LIMIT_DEFAULTS = {name: Settings.__dataclass_fields__[name].default for name in LIMIT_BOUNDS}


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(f"LIANXIN_{name.upper()}", "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"LIANXIN_{name.upper()} must be a whole number, not {text!r}") from None


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
