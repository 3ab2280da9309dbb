"""Lists come in pages: `limit` (1 to 1000, default 50) and `offset`, the whole list's size in `X-Total-Count`."""

from __future__ import annotations

import pytest

from tests.secrets.conftest import ADMIN, BASE, METADATA, add

MANY = 55


@pytest.fixture
def many(client, admin_headers) -> list[str]:
    """`MANY` global secrets, `S00` to `S54`."""
    names = [f"S{number:02}" for number in range(MANY)]
    for name in names:
        add(client, admin_headers, name, "v")
    return names


def listed(response) -> list[str]:
    assert response.status_code == 200, response.json
    assert all(set(row) == METADATA for row in response.json)  # metadata only, never a value
    return [row["name"] for row in response.json]


@pytest.mark.parametrize("base", [BASE, ADMIN])
def test_the_secrets_list_is_paged(client, admin_headers, many, base):
    first = client.get(base, headers=admin_headers)
    assert listed(first) == many[:50]
    assert first.headers["X-Total-Count"] == str(MANY)
    page = client.get(f"{base}?limit=10&offset=50", headers=admin_headers)
    assert (listed(page), page.headers["X-Total-Count"]) == (many[50:], str(MANY))
    assert listed(client.get(f"{base}?limit=1000", headers=admin_headers)) == many
    past_the_end = client.get(f"{base}?offset=100", headers=admin_headers)
    assert (listed(past_the_end), past_the_end.headers["X-Total-Count"]) == ([], str(MANY))


def test_the_total_counts_the_filtered_list(client, admin_headers, many):
    add(client, admin_headers, "S00", "v", namespace="prod")
    response = client.get(f"{BASE}?search=S0&limit=3", headers=admin_headers)
    assert (listed(response), response.headers["X-Total-Count"]) == (["S00", "S01", "S02"], "11")
    response = client.get(f"{BASE}?namespace=prod", headers=admin_headers)
    assert (listed(response), response.headers["X-Total-Count"]) == (["S00"], "1")


def test_versions_are_paged_newest_first(client, admin_headers):
    created = add(client, admin_headers, "K", "v1")
    for value in ("v2", "v3", "v4"):
        assert client.put(f"{BASE}/{created['id']}", json={"value": value}, headers=admin_headers).status_code == 200
    for path in (f"{BASE}/{created['id']}/versions", f"{BASE}/by-name/K/versions", f"{ADMIN}/K/history"):
        whole = client.get(path, headers=admin_headers)
        assert [row["version"] for row in whole.json] == [4, 3, 2, 1]
        assert whole.headers["X-Total-Count"] == "4"
        page = client.get(f"{path}?limit=2&offset=1", headers=admin_headers)
        assert page.status_code == 200
        assert [(row["version"], row["is_current"]) for row in page.json] == [(3, False), (2, False)]
        assert page.headers["X-Total-Count"] == "4"
    add(client, admin_headers, "K", "prod-1", namespace="prod")
    in_prod = client.get(f"{BASE}/by-name/K/versions?namespace=prod&limit=1", headers=admin_headers)
    assert ([row["is_current"] for row in in_prod.json], in_prod.headers["X-Total-Count"]) == ([True], "1")


@pytest.mark.parametrize("page", ["limit=1001", "limit=0", "limit=-1", "limit=ten", "offset=-1", "offset=x"])
def test_a_bad_page_is_400(client, admin_headers, page):
    created = add(client, admin_headers, "K", "v")
    for path in (BASE, ADMIN, f"{BASE}/{created['id']}/versions", f"{BASE}/by-name/K/versions", f"{ADMIN}/K/history"):
        response = client.get(f"{path}?{page}", headers=admin_headers)
        assert (response.status_code, response.json["code"]) == (400, "INVALID_PAGE"), (path, page)
