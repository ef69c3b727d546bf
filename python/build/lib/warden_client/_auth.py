"""Where the client's token comes from, as for the CLI, and the device-flow sign-in (`Client.login`)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx

from ._errors import WardenError

_MAX_CREDENTIALS_BYTES = 1 << 20


def credentials_path() -> Path | None:
    """The CLI's credentials file: `$WARDEN_CONFIG_DIR`, `$XDG_CONFIG_HOME/warden` or `~/.config/warden`."""
    if os.environ.get("WARDEN_CONFIG_DIR"):
        return Path(os.environ["WARDEN_CONFIG_DIR"]) / "credentials.json"
    if os.environ.get("XDG_CONFIG_HOME"):
        return Path(os.environ["XDG_CONFIG_HOME"]) / "warden" / "credentials.json"
    if os.environ.get("HOME"):
        return Path(os.environ["HOME"]) / ".config" / "warden" / "credentials.json"
    return None


def _read_credentials() -> dict:
    path = credentials_path()
    if path is None or not path.exists():
        return {"servers": {}}
    if path.stat().st_size > _MAX_CREDENTIALS_BYTES:
        raise WardenError(None, "credentials", f"{path} is over {_MAX_CREDENTIALS_BYTES} bytes")
    return json.loads(path.read_text())


def _write_credentials(credentials: dict) -> Path:
    path = credentials_path()
    if path is None:
        raise WardenError(None, "credentials", "no HOME, XDG_CONFIG_HOME or WARDEN_CONFIG_DIR to keep the sign-in in")
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(".credentials.json.new")
    staged.unlink(missing_ok=True)
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as f:
        f.write(json.dumps(credentials, indent=2))
    os.replace(staged, path)
    return path


def resolve_token(url: str, data_dir: str | os.PathLike | None = None) -> str:
    """`WARDEN_TOKEN`, else the sign-in `warden login` kept for `url`, else the data directory's admin token."""
    if os.environ.get("WARDEN_TOKEN"):
        return os.environ["WARDEN_TOKEN"]
    saved = _read_credentials().get("servers", {}).get(url.rstrip("/"))
    if saved is not None:
        if saved.get("expires_at") is not None and saved["expires_at"] <= time.time():
            raise WardenError(
                None, "unauthenticated", f"the sign-in of {saved.get('name')} to {url} has expired: sign in again"
            )
        return saved["token"]
    directory = Path(data_dir or os.environ.get("WARDEN_DATA_DIR") or "warden-data")
    admin = directory / "admin.token"
    if admin.exists():
        return admin.read_text().strip()
    raise WardenError(
        None,
        "unauthenticated",
        f"no token given (token=... or WARDEN_TOKEN), not signed in (warden login), and no {admin}",
    )


def device_login(url: str, *, timeout: float = 10.0, announce=print) -> dict:
    """The device authorization flow (RFC 8628) against the provider the server names; the token is kept
    where the CLI keeps it. Returns who the server takes the new token for."""
    url = url.rstrip("/")
    with httpx.Client(timeout=timeout) as http:
        provider = http.get(f"{url}/v1/identity-provider")
        if provider.status_code != 200:
            raise WardenError.of(provider)
        provider = provider.json()
        issuer = provider["issuer"].rstrip("/")
        client_id = provider["cli_client_id"]
        discovery = http.get(f"{issuer}/.well-known/openid-configuration").json()
        device_endpoint = discovery.get("device_authorization_endpoint")
        if not device_endpoint:
            raise WardenError(None, "unavailable", "the identity provider does not offer the device authorization flow")
        started = http.post(device_endpoint, data={"client_id": client_id, "scope": "openid profile email"})
        if started.status_code != 200:
            raise WardenError(started.status_code, "exchange", f"device authorization refused: {started.text[:200]}")
        started = started.json()
        where = started.get("verification_uri_complete") or started["verification_uri"]
        announce(f"To sign in to {url}, open {where} and enter the code {started['user_code']}")
        interval = max(1, min(int(started.get("interval", 5)), 60))
        deadline = time.monotonic() + min(int(started.get("expires_in", 600)), 3600)
        while True:
            if time.monotonic() >= deadline:
                raise WardenError(None, "expired", "the code expired before the sign-in was confirmed")
            time.sleep(interval)
            answer = http.post(
                discovery["token_endpoint"],
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                    "device_code": started["device_code"],
                    "client_id": client_id,
                },
            )
            body = answer.json()
            if answer.status_code == 200:
                break
            if body.get("error") == "slow_down":
                interval += 5
            elif body.get("error") != "authorization_pending":
                raise WardenError(answer.status_code, body.get("error", "exchange"), str(body)[:200])
        token = body["access_token"]
        me = http.get(f"{url}/v1/whoami", headers={"authorization": f"Bearer {token}"})
        if me.status_code != 200:
            raise WardenError.of(me)
        me = me.json()
    credentials = _read_credentials()
    expires_in = body.get("expires_in")
    credentials.setdefault("servers", {})[url] = {
        "token": token,
        "expires_at": int(time.time()) + int(expires_in) if expires_in is not None else None,
        "name": me["name"],
    }
    _write_credentials(credentials)
    return me
