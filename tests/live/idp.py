"""A real OpenID Connect provider for the sign-in tests: ``tests/oidc/provider.mjs`` (panva/oidc-provider
under Node), on a free 127.0.0.1 port, stopped when the test ends. ``make test`` installs its npm
packages (``tests/oidc/package-lock.json``)."""

import asyncio
import contextlib
import json
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parents[1] / "oidc"


@dataclass(frozen=True)
class Idp:
    issuer: str
    client_id: str
    client_secret: str

    def settings(self) -> dict[str, Any]:
        """The monitor's settings that point its single sign-on here."""
        return {"oidc_issuer": self.issuer, "oidc_client_id": self.client_id,
                "oidc_client_secret": self.client_secret, "oidc_scopes": "openid profile email sealguard",
                "oidc_label": "Sign in with Test IdP"}  # fmt: skip


def issuer_for_port(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def oidc_provider(tmp: Path, port: int, redirect_uri: str, accounts: dict[str, Any]) -> AsyncIterator[Idp]:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed for the OpenID Connect provider of the sign-in tests"
    assert (HERE / "node_modules" / "oidc-provider").is_dir(), "run `make test` (it runs npm ci in tests/oidc)"
    idp = Idp(issuer_for_port(port), "sealguard", secrets.token_urlsafe(24))
    config = {"port": port, "issuer": idp.issuer, "accounts": accounts,
              "clients": [{"client_id": idp.client_id, "client_secret": idp.client_secret,
                           "redirect_uris": [redirect_uri], "grant_types": ["authorization_code"],
                           "response_types": ["code"],
                           "token_endpoint_auth_method": "client_secret_basic"}]}  # fmt: skip
    path = tmp / "idp.json"
    path.write_text(json.dumps(config))
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(node, str(HERE / "provider.mjs"), str(path), cwd=HERE, stdout=pipe,
                                                stderr=pipe)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.startswith(b"ready"), (line, await proc.stderr.read() if proc.stderr else b"")
        yield idp
    finally:
        if proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
