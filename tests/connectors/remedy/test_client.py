"""AR-JWT and the error paths of the Remedy connector, with the transport mocked (respx)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from bridgeline.connectors.http import HttpClient
from bridgeline.connectors.remedy import ARJWTAuth, RemedyClient, RemedyTarget, remedy_error_parser
from bridgeline.errors import AuthenticationFailed, RemoteRejected, RetryableError
from bridgeline.model import TargetRef

from .conftest import FAST

BASE = "https://remedy.test"
LOGIN = f"{BASE}/api/jwt/login"
LOGOUT = f"{BASE}/api/jwt/logout"
CHANGES = f"{BASE}/api/arsys/v1/entry/CHG:Infrastructure%20Change"
CREATE = f"{BASE}/api/arsys/v1/entry/CHG:ChangeInterface_Create"
TASKS = f"{BASE}/api/arsys/v1/entry/TMS:Task"


def jwt(n: int, lifetime: int = 3600) -> str:
    def b64(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {"sub": "bridgeline", "iat": 1000, "exp": 1000 + lifetime, "n": n}
    return f"{b64({'alg': 'HS256'})}.{b64(claims)}.sig"


def logins(*tokens: str) -> list[httpx.Response]:
    return [httpx.Response(200, text=t, headers={"Content-Type": "text/plain"}) for t in tokens]


def ar_error(status: int, number: int, text: str, appended: str | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        json=[
            {
                "messageType": "ERROR",
                "messageNumber": number,
                "messageText": text,
                "messageAppendedText": appended,
            }
        ],
    )


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def client(clock: Clock | None = None) -> RemedyClient:
    auth = ARJWTAuth(
        BASE, "bridgeline", "pw", clock=clock or Clock(), error_message=lambda r: remedy_error_parser(r)[0]
    )
    http = HttpClient("remedy", BASE, auth=auth, retry=FAST, error_parser=remedy_error_parser)
    return RemedyClient(http, auth)


def token_of(request: httpx.Request) -> str:
    scheme, _, token = request.headers["authorization"].partition(" ")
    assert scheme == "AR-JWT"
    return token


@respx.mock
async def test_logs_in_once_sends_the_token_and_logs_out_on_close() -> None:
    login = respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    logout = respx.post(LOGOUT).mock(return_value=httpx.Response(204))
    gets = respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"entries": [], "_links": {}}))
    remedy = client()
    await remedy.first("CHG:Infrastructure Change", "'1' = \"x\"")
    await remedy.first("CHG:Infrastructure Change", "'1' = \"y\"")
    await remedy.aclose()
    assert login.call_count == 1
    assert parse_qs(login.calls[0].request.content.decode()) == {
        "username": ["bridgeline"],
        "password": ["pw"],
    }
    assert [token_of(c.request) for c in gets.calls] == [jwt(1), jwt(1)]
    assert logout.call_count == 1 and token_of(logout.calls[0].request) == jwt(1)
    assert gets.calls[0].request.url.params["q"] == "'1' = \"x\""


@respx.mock
async def test_a_401_logs_in_again_once_and_repeats_the_request() -> None:
    login = respx.post(LOGIN).mock(side_effect=logins(jwt(1), jwt(2)))
    gets = respx.get(CHANGES).mock(
        side_effect=[
            ar_error(401, 623, "Authentication failed", "token expired"),
            httpx.Response(200, json={"entries": [{"values": {"Request ID": "CRQ1"}}], "_links": {}}),
        ]
    )
    remedy = client()
    found = await remedy.first("CHG:Infrastructure Change", "")
    assert found == {"Request ID": "CRQ1"} and login.call_count == 2
    assert [token_of(c.request) for c in gets.calls] == [jwt(1), jwt(2)]


@respx.mock
async def test_a_second_401_is_an_authentication_failure_not_a_loop() -> None:
    login = respx.post(LOGIN).mock(side_effect=logins(jwt(1), jwt(2), jwt(3)))
    gets = respx.get(CHANGES).mock(return_value=ar_error(401, 623, "Authentication failed", "unknown token"))
    remedy = client()
    with pytest.raises(AuthenticationFailed) as info:
        await remedy.first("CHG:Infrastructure Change", "")
    assert gets.call_count == 2 and login.call_count == 2
    assert "ERROR (623): Authentication failed; unknown token" in str(info.value)


@respx.mock
async def test_the_token_is_renewed_before_its_lifetime_ends() -> None:
    login = respx.post(LOGIN).mock(side_effect=logins(jwt(1, lifetime=600), jwt(2, lifetime=600)))
    gets = respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"entries": []}))
    clock = Clock()
    remedy = client(clock)
    await remedy.first("CHG:Infrastructure Change", "")
    clock.now += 600 - 30  # within the last minute of the token's life (read from its iat/exp)
    await remedy.first("CHG:Infrastructure Change", "")
    assert login.call_count == 2
    assert [token_of(c.request) for c in gets.calls] == [jwt(1, 600), jwt(2, 600)]


@respx.mock
async def test_a_refused_login_names_the_account_and_is_not_retried() -> None:
    login = respx.post(LOGIN).mock(return_value=ar_error(401, 623, "Authentication failed", "bridgeline"))
    remedy = client()
    with pytest.raises(AuthenticationFailed) as info:
        await remedy.first("CHG:Infrastructure Change", "")
    assert login.call_count == 1
    assert "login as 'bridgeline' refused: ERROR (623): Authentication failed; bridgeline" in str(info.value)


@respx.mock
async def test_error_arrays_become_the_message() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    respx.put(f"{CHANGES}/CRQ000000000106").mock(
        return_value=ar_error(
            400, 306, "Value does not fall within the limits specified for the field", "Impact: 'Huge'"
        )
    )
    remedy = client()
    with pytest.raises(RemoteRejected) as info:
        await remedy.update("CHG:Infrastructure Change", "CRQ000000000106", {"Impact": "Huge"})
    assert info.value.status == 400
    assert (
        "ERROR (306): Value does not fall within the limits specified for the field; Impact: 'Huge'"
        in str(info.value)
    )


def target(settle: float = 60.0) -> RemedyTarget:
    return RemedyTarget(client(), web_url=BASE, create_settle_seconds=settle)


@respx.mock
async def test_a_create_that_timed_out_but_happened_is_found_not_repeated() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    post = respx.post(CREATE).mock(side_effect=httpx.ReadTimeout("slow"))
    lookup = respx.get(CHANGES).mock(
        return_value=httpx.Response(
            200,
            json={
                "entries": [
                    {
                        "values": {
                            "Request ID": "CRQ000000000106",
                            "Infrastructure Change ID": "CRQ000000000106",
                        }
                    }
                ]
            },
        )
    )
    result = await target().create("change", {"Description": "x"}, correlation_id="jira:INFRA:version:1")
    assert post.call_count == 1 and result.target.number == "CRQ000000000106"
    assert lookup.calls[0].request.url.params["q"] == "'Vendor Ticket Number' = \"jira:INFRA:version:1\""


@respx.mock
async def test_a_create_that_timed_out_and_is_not_there_waits_before_a_retry() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    post = respx.post(CREATE).mock(side_effect=httpx.ReadTimeout("slow"))
    respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"entries": []}))
    with pytest.raises(RetryableError) as info:
        await target(settle=45).create("change", {"Description": "x"}, correlation_id="c")
    assert post.call_count == 1
    assert info.value.retry_after is not None and 40 < info.value.retry_after <= 45


@respx.mock
async def test_a_task_id_is_read_from_location_when_the_server_sends_no_body() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    post = respx.post(TASKS).mock(
        return_value=httpx.Response(201, headers={"Location": f"{TASKS}/TAS000000000205"})
    )
    parent = TargetRef("remedy", "change", "CRQ000000000106", "CRQ000000000106")
    result = await target().create("change", {"Summary": "t"}, correlation_id="c:issue:1", parent=parent)
    assert result.target.kind == "task" and result.target.id == "TAS000000000205"
    sent = json.loads(post.calls[0].request.content)["values"]
    assert sent["RootRequestID"] == "CRQ000000000106" and sent["Character 01"] == "c:issue:1"


@respx.mock
async def test_a_quote_in_a_correlation_id_is_escaped_in_the_qualification() -> None:
    respx.post(LOGIN).mock(side_effect=logins(jwt(1)))
    lookup = respx.get(CHANGES).mock(return_value=httpx.Response(200, json={"entries": []}))
    assert await target().find("change", 'jira:"odd"') is None
    assert lookup.calls[0].request.url.params["q"] == '\'Vendor Ticket Number\' = "jira:""odd"""'
