"""Qualifications (``q``) select entries as AR System does; the seed has CRQ000000000101..105.

101 Draft "Quarterly firewall rule review" (Allen), 102 Scheduled For Approval (Mary), 103 Scheduled
(Vendor Ticket Number SEC-4412), 104 Closed / Successful, 105 Implementation In Progress (Emergency).
"""

from __future__ import annotations

import httpx
import pytest

from bridgeline.sim import serve_in_thread
from bridgeline.sim.remedy import RemedySimulator

from .conftest import LOGIN

CHANGES = "/api/arsys/v1/entry/CHG:Infrastructure Change"


def select(api: httpx.Client, q: str) -> list[int]:
    response = api.get(CHANGES, params={"q": q, "fields": "values(Infrastructure Change ID)"})
    assert response.status_code == 200, response.text
    return [int(e["values"]["Infrastructure Change ID"][3:]) for e in response.json()["entries"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("'Infrastructure Change ID' = \"CRQ000000000103\"", [103]),
        ("'1' = \"CRQ000000000103\"", [103]),  # field id 1 is the Request ID
        ("'Change Request Status' != \"Closed\"", [101, 102, 103, 105]),
        ("'Submitter' = \"allen\" AND 'Change Request Status' = \"Draft\"", [101]),
        ("'Change Request Status' = \"Draft\" OR 'Timing' = \"Emergency\"", [101, 105]),
        ("NOT 'Submitter' = \"allen\"", [102, 105]),
        (
            "'Submitter' = \"mary\" AND ('Timing' = \"Emergency\" OR 'Change Request Status' = \"Draft\")",
            [105],
        ),
        (
            "('Submitter' = \"mary\" AND 'Timing' = \"Emergency\") OR 'Change Request Status' = \"Draft\"",
            [101, 105],
        ),
        ("'Description' LIKE \"%firewall%\"", [101]),
        ("'Description' LIKE \"Rotate TLS%\"", [103]),
        ("'Description' LIKE \"_ecommission%\"", [104]),
        ("'Vendor Ticket Number' = $NULL$", [101, 102, 104, 105]),
        ("'Vendor Ticket Number' != $NULL$", [103]),
        ("'Vendor Ticket Number' != \"SEC-4412\"", []),  # a NULL matches no comparison
        ("'Change Request Status' >= \"Scheduled\"", [103, 104, 105]),  # by position in the list
        ("'Change Request Status' < \"Planning In Progress\"", [101]),
        ("'Priority' <= \"High\"", [105]),
        ("'Submitter' = $USER$", []),
        ("'Submitter' = \"allen\" & 'Timing' = \"Normal\"", [101, 103, 104]),
        ("\"mary\" = 'Submitter'", [102, 105]),
        ("'Infrastructure Change ID' > \"CRQ000000000103\"", [104, 105]),
        ("'Submitter' = \"ALLEN\"", []),  # case-sensitive back end by default
        ("'Submitter' = 'Last Modified By'", [101, 102, 105]),
    ],
)
def test_qualifications_select_entries(api: httpx.Client, q: str, expected: list[int]) -> None:
    assert select(api, q) == expected


def test_dates_compare_with_date_text_or_epoch_seconds(api: httpx.Client, sim: RemedySimulator) -> None:
    submitted = {c["Infrastructure Change ID"]: c["Submit Date"] for c in sim.changes()}
    cut = submitted["CRQ000000000103"]
    assert select(api, f"'Submit Date' >= \"{cut}\"") == [103, 105]
    epoch = sim.state.stores["CHG:Infrastructure Change"]["CRQ000000000103"].values["Submit Date"]
    assert select(api, f"'Submit Date' >= \"{epoch}\"") == [103, 105]
    assert select(api, f"'Submit Date' >= {epoch} AND 'Submit Date' < {epoch + 1}") == [103]
    assert select(api, "'Last Modified Date' > $DATE$") == []


def test_a_selection_value_that_does_not_exist_is_an_error(api: httpx.Client) -> None:
    response = api.get(CHANGES, params={"q": "'Change Request Status' = \"Approved\""})
    assert response.status_code == 400
    assert response.json()[0]["messageNumber"] == 306


def test_case_insensitive_back_ends_can_be_simulated() -> None:
    sim = RemedySimulator(case_sensitive_queries=False)
    with serve_in_thread(sim.app) as served, httpx.Client(base_url=served.url) as http:
        token = http.post("/api/jwt/login", data=LOGIN).text
        http.headers["Authorization"] = f"AR-JWT {token}"
        assert select(http, "'Submitter' = \"ALLEN\"") == [101, 103, 104]
        assert select(http, "'Description' LIKE \"%FIREWALL%\"") == [101]


def test_encoded_and_raw_qualifications_agree(api: httpx.Client, url: str) -> None:
    q = "'Description' LIKE \"%TLS%\" AND 'Change Request Status' = \"Scheduled\""
    raw = httpx.get(f"{url}{CHANGES}?q={q}", headers=api.headers)  # httpx escapes only what it must
    assert [e["values"]["Infrastructure Change ID"] for e in raw.json()["entries"]] == ["CRQ000000000103"]
    assert select(api, q) == [103]
