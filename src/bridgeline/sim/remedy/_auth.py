"""AR-JWT: ``POST /api/jwt/login`` hands out a signed JWT; requests send ``Authorization: AR-JWT <token>``.

The token carries the claims AR System puts in it (``sub``, ``iss``, ``iat``, ``nbf`` two minutes
early for clock skew, ``exp``, ``_cacheId``). The server also keeps the tokens it issued, so logout
revokes one at once, and an expired, revoked or unknown token answers 401 with error 623.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._clock import SimClock
from bridgeline.sim.remedy._config import RemedyConfig
from bridgeline.sim.remedy._state import RemedyState, Token

ISSUER = "remedy-sim"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Authenticator:
    def __init__(self, state: RemedyState, config: RemedyConfig, clock: SimClock, secret: bytes) -> None:
        self.state = state
        self.config = config
        self.clock = clock
        self.secret = secret

    def login(self, username: str, password: str) -> str:
        account = self.config.users.get(username)
        if account is None or not hmac.compare_digest(account.password, password):
            raise err.auth_failed(username)
        issued = self.clock.now_s()
        expires = issued + int(self.config.token_lifetime)
        cache_id = self.state.next_number("jwt", 1)
        header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
        claims = {
            "sub": username,
            "iss": ISSUER,
            "iat": issued,
            "nbf": issued - 120,
            "exp": expires,
            "_cacheId": cache_id,
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = _b64(hmac.new(self.secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        token = f"{header}.{payload}.{signature}"
        with self.state.lock:
            self.state.tokens[token] = Token(username, issued, expires)
        return token

    def user(self, authorization: str | None) -> str:
        """The user behind an ``Authorization: AR-JWT ...`` header, or the 401 a server sends."""
        if not authorization:
            raise err.auth_failed("no Authorization header; expected AR-JWT <token>")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.upper() != "AR-JWT" or not token.strip():
            raise err.auth_failed("the Authorization header must be AR-JWT <token>")
        with self.state.lock:
            found = self.state.tokens.get(token.strip())
            if found is None:
                raise err.auth_failed("unknown or logged-out token")
            if self.clock.now_s() >= found.expires:
                del self.state.tokens[token.strip()]
                raise err.auth_failed("token expired")
            return found.user

    def logout(self, authorization: str | None) -> None:
        self.user(authorization)
        token = (authorization or "").strip().partition(" ")[2].strip()
        with self.state.lock:
            self.state.tokens.pop(token, None)
