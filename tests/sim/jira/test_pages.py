"""The pages a person opens: how to sign in (in the deployment's own terms) and a release's page at
the URLs Jira Cloud and Data Center use for it."""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import Served

CREDENTIAL = re.compile(r"<code>(?:Basic ([^\s<]+) / ([^\s<]+)|Bearer ([^\s<]+))</code>")


def _credentials_shown(html: str) -> list[httpx.Auth | dict[str, str]]:
    shown: list[httpx.Auth | dict[str, str]] = []
    for login, secret, token in CREDENTIAL.findall(html):
        shown.append({"Authorization": f"Bearer {token}"} if token else httpx.BasicAuth(login, secret))
    return shown


@pytest.mark.parametrize("deployment", ["cloud", "dc"])
def test_every_credential_the_front_page_shows_is_accepted(
    deployment: str, request: pytest.FixtureRequest
) -> None:
    served: Served = request.getfixturevalue(deployment)
    page = httpx.get(served.url + "/")
    shown = _credentials_shown(page.text)
    assert len(shown) >= (3 if deployment == "cloud" else 6), page.text
    for way in shown:
        headers = way if isinstance(way, dict) else {}
        auth = None if isinstance(way, dict) else way
        me = httpx.get(served.url + "/rest/api/2/myself", auth=auth, headers=headers)
        assert me.status_code == 200, (way, me.text)
    if deployment == "dc":
        assert "Basic bridgeline@example.com" not in page.text  # Cloud's sign-in is refused there


def _release(served: Served, key: str = "WEB") -> tuple[str, str, list[str]]:
    """A release of ``key`` with issues: its id, name and issue keys."""
    state = served.sim.state
    with state.lock:
        project = state.project(key)
        assert project is not None
        for version in state.project_versions(project.id):
            keys = sorted(state.issues[i].key for i in state.by_fix_version.get(version.id, ()))
            if keys:
                return str(version.id), version.name, keys
    raise AssertionError(f"no release of {key} has issues")


def test_a_cloud_release_page_lists_the_version_and_its_issues(cloud: Served) -> None:
    version_id, name, keys = _release(cloud)
    page = httpx.get(f"{cloud.url}/projects/WEB/versions/{version_id}/tab/release-report-all-issues")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert f"<h1>{name} " in page.text and "Web Storefront" in page.text
    for key in keys:
        assert f"<a href='/browse/{key}'>{key}</a>" in page.text
    assert f"{len(keys)} issue(s)" in page.text
    # the project's versions page without a tab opens the same release
    assert httpx.get(f"{cloud.url}/projects/WEB/versions/{version_id}").status_code == 200


def test_a_data_center_release_page_lists_the_version_and_its_issues(dc: Served) -> None:
    version_id, name, keys = _release(dc, "PAY")
    page = httpx.get(f"{dc.url}/projects/PAY/versions/{version_id}")
    assert page.status_code == 200
    assert f"<h1>{name} " in page.text
    assert all(f"/browse/{key}'" in page.text for key in keys)


@pytest.mark.parametrize(
    ("deployment", "shape"),
    [
        ("cloud", "/projects/OPS/versions/{id}/tab/release-report-all-issues"),
        ("dc", "/projects/OPS/versions/{id}"),
    ],
)
def test_the_fixforversion_permalink_redirects_to_the_release_page(
    deployment: str, shape: str, request: pytest.FixtureRequest
) -> None:
    served: Served = request.getfixturevalue(deployment)
    version_id, name, _ = _release(served, "OPS")
    moved = httpx.get(f"{served.url}/browse/OPS/fixforversion/{version_id}")
    assert moved.status_code == 302 and moved.headers["location"] == shape.format(id=version_id)
    followed = httpx.get(f"{served.url}/browse/OPS/fixforversion/{version_id}", follow_redirects=True)
    assert followed.status_code == 200 and f"<h1>{name} " in followed.text


def test_pages_link_to_the_release_pages(cloud: Served, dc: Served) -> None:
    version_id, _, keys = _release(cloud)
    for served, path in (
        (cloud, f"/projects/WEB/versions/{version_id}/tab/release-report-all-issues"),
        (dc, f"/projects/WEB/versions/{version_id}"),
    ):
        assert f"<a href='{path}'>" in httpx.get(served.url + "/").text
        assert f"<a href='{path}'>" in httpx.get(f"{served.url}/browse/{keys[0]}").text


def test_unknown_releases_and_tabs_answer_404(cloud: Served) -> None:
    version_id, _, _ = _release(cloud)
    for path in (
        "/projects/WEB/versions/99999",
        "/projects/NOPE/versions/10001",
        f"/projects/PAY/versions/{version_id}",  # a WEB release under another project
        "/projects/WEB/versions/web-26.3",
        f"/projects/WEB/versions/{version_id}/tab/no-such-tab",
        "/browse/WEB/fixforversion/99999",
    ):
        answer = httpx.get(cloud.url + path)
        assert answer.status_code == 404, path
        assert "does not exist" in answer.text
