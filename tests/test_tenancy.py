"""Automatic tenant scoping, and which tenant a request acts in."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flux.auth.models import AppUser, PlatformAccount
from flux.auth.passwords import hash_password
from flux.db import db, utcnow
from flux.tenancy import (
    TENANT_PARAMETER,
    Tenant,
    TenantMembership,
    TenantRequired,
    default_tenant_id,
    insert_row,
    read_rows,
    tenant_filter,
    tenant_scope,
)
from tests.conftest import PASSWORD, create_tenant


def add_users(app, tenant_id: str, *emails: str) -> None:
    with app.app_context(), tenant_scope(tenant_id):
        for email in emails:
            db.session.add(AppUser(email=email, password_hash="x", role="authenticated", user_metadata={}))
        db.session.commit()


def test_default_tenant_exists_after_migration(app):
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "default"))
        assert tenant is not None and tenant.deleted_at is None
        assert default_tenant_id() == tenant.id


def test_query_without_tenant_filter_sees_only_current_tenant(app):
    acme, globex = create_tenant(app, "acme"), create_tenant(app, "globex")
    add_users(app, acme, "a1@example.com", "a2@example.com")
    add_users(app, globex, "g1@example.com")
    with app.app_context():
        with tenant_scope(acme):
            assert sorted(db.session.scalars(sa.select(AppUser.email))) == ["a1@example.com", "a2@example.com"]
            assert db.session.scalar(sa.select(sa.func.count()).select_from(AppUser)) == 2
        with tenant_scope(globex):
            assert list(db.session.scalars(sa.select(AppUser.email))) == ["g1@example.com"]
            # A primary-key lookup of another tenant's row finds nothing either.
            other = db.session.scalar(
                sa.select(AppUser.id).where(AppUser.tenant_id == acme).execution_options(all_tenants=True)
            )
            db.session.expunge_all()
            assert db.session.scalars(sa.select(AppUser).where(AppUser.id == other)).first() is None


def test_new_rows_get_the_current_tenant(app):
    acme = create_tenant(app, "acme")
    add_users(app, acme, "new@example.com")
    with app.app_context():
        stored = db.session.execute(
            sa.select(AppUser.tenant_id).where(AppUser.email == "new@example.com").execution_options(all_tenants=True)
        ).scalar_one()
    assert stored == acme


def test_bulk_update_and_delete_are_scoped(app):
    acme, globex = create_tenant(app, "acme"), create_tenant(app, "globex")
    add_users(app, acme, "same@example.com")
    add_users(app, globex, "same@example.com")
    with app.app_context():
        with tenant_scope(acme):
            db.session.execute(sa.update(AppUser).values(role="admin"))
            db.session.execute(sa.delete(AppUser).where(AppUser.email == "nobody@example.com"))
            db.session.commit()
        with tenant_scope(globex):
            assert db.session.scalar(sa.select(AppUser.role)) == "authenticated"
            db.session.execute(sa.delete(AppUser))
            db.session.commit()
        rows = db.session.execute(sa.select(AppUser.tenant_id, AppUser.role).execution_options(all_tenants=True)).all()
    assert [(row.tenant_id, row.role) for row in rows] == [(acme, "admin")]


def test_query_with_no_tenant_fails_closed(app):
    with app.app_context(), pytest.raises(TenantRequired):
        db.session.scalars(sa.select(AppUser)).all()


# Which tenant a request acts in.


def tenant_admin(app, email: str, tenant_id: str) -> None:
    with app.app_context():
        account = PlatformAccount(email=email, password_hash=hash_password(PASSWORD), role="tenant_admin", name="T")
        db.session.add(account)
        db.session.flush()
        db.session.add(TenantMembership(tenant_id=tenant_id, account_id=account.id, role="tenant_admin"))
        db.session.commit()


def login(client, email: str) -> dict:
    response = client.post("/api/v1/admin/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def test_header_honoured_for_a_member(app, client):
    acme = create_tenant(app, "acme")
    tenant_admin(app, "ta@example.com", acme)
    headers = login(client, "ta@example.com")
    for value in ("acme", acme):
        response = client.get("/api/v1/admin/service-keys", headers={**headers, "X-FB-Tenant": value})
        assert response.status_code == 200, response.json


def test_header_refused_for_a_non_member(app, client):
    acme = create_tenant(app, "acme")
    create_tenant(app, "globex")
    tenant_admin(app, "ta@example.com", acme)
    headers = login(client, "ta@example.com")
    response = client.get("/api/v1/admin/service-keys", headers={**headers, "X-FB-Tenant": "globex"})
    assert response.status_code == 403
    assert response.json["error"] == "access denied to this tenant"


def test_tenant_admin_is_admin_only_where_member(app, client):
    acme = create_tenant(app, "acme")
    tenant_admin(app, "ta@example.com", acme)
    headers = login(client, "ta@example.com")
    # Its token points at acme (its first tenant), where it administers.
    assert client.get("/api/v1/admin/service-keys", headers=headers).status_code == 200
    # An instance admin may name any tenant; the tenant admin may not use the default one.
    response = client.get("/api/v1/admin/service-keys", headers={**headers, "X-FB-Tenant": "default"})
    assert response.status_code == 403


def test_unknown_tenant_is_404(client, admin_headers):
    response = client.get("/api/v1/admin/service-keys", headers={**admin_headers, "X-FB-Tenant": "no-such-tenant"})
    assert response.status_code == 404
    assert response.json["code"] == "TENANT_NOT_FOUND"


def test_instance_admin_may_use_any_tenant(app, client, admin_headers):
    create_tenant(app, "acme")
    response = client.get("/api/v1/admin/service-keys", headers={**admin_headers, "X-FB-Tenant": "acme"})
    assert response.status_code == 200


def test_jwt_claim_picks_the_users_tenant(app, client, auth):
    acme = create_tenant(app, "acme")
    tokens = auth.signup("member@acme.example", tenant="acme")
    assert tokens["user"]["tenant_id"] == acme
    me = client.get("/api/v1/auth/user", headers=auth.bearer(tokens))
    assert me.status_code == 200 and me.json["tenant_id"] == acme
    # The same e-mail is a different user in the default tenant.
    auth.signup("member@acme.example")
    crossed = client.get("/api/v1/auth/user", headers=auth.bearer(tokens, **{"X-FB-Tenant": "default"}))
    assert crossed.status_code == 403
    assert crossed.json["error"] == "access denied to this tenant"


def test_no_header_no_claim_is_the_default_tenant(app, client, auth):
    tokens = auth.signup("plain@example.com")
    with app.app_context():
        assert tokens["user"]["tenant_id"] == default_tenant_id()


def test_deleted_tenant_is_not_found(app, client, auth):
    acme = create_tenant(app, "acme")
    with app.app_context():
        db.session.get(Tenant, acme).deleted_at = sa.func.now()
        db.session.commit()
    response = client.post(
        "/api/v1/auth/signup", json={"email": "x@example.com", "password": PASSWORD}, headers={"X-FB-Tenant": "acme"}
    )
    assert response.status_code == 404


def test_unknown_tenant_is_403_for_a_user_so_names_cannot_be_probed(client, auth):
    tokens = auth.signup("prober@example.com")
    response = client.get("/api/v1/auth/user", headers=auth.bearer(tokens, **{"X-FB-Tenant": "no-such-tenant"}))
    assert response.status_code == 403
    assert response.json["error"] == "access denied to this tenant"


def test_joined_and_subquery_rows_are_scoped_too(app):
    acme, globex = create_tenant(app, "acme"), create_tenant(app, "globex")
    add_users(app, acme, "a@example.com")
    add_users(app, globex, "g1@example.com", "g2@example.com")
    with app.app_context(), tenant_scope(acme):
        joined = db.session.execute(sa.select(Tenant.slug, AppUser.email).join(AppUser, AppUser.tenant_id == Tenant.id))
        assert [tuple(row) for row in joined] == [("acme", "a@example.com")]
        inner = sa.select(AppUser.id).scalar_subquery()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AppUser).where(AppUser.id.in_(inner))) == 1


def test_table_level_statements_on_scoped_tables_are_refused(app):
    acme = create_tenant(app, "acme")
    add_users(app, acme, "a@example.com")
    table = AppUser.__table__
    with app.app_context(), tenant_scope(acme):
        with pytest.raises(TenantRequired, match="auth_users"):
            db.session.execute(sa.select(table))
        with pytest.raises(TenantRequired):
            db.session.execute(sa.update(table).values(role="admin"))
        explicit = db.session.execute(
            sa.select(table.c.email).where(table.c.tenant_id == acme), execution_options={"all_tenants": True}
        )
        assert list(explicit.scalars()) == ["a@example.com"]
        assert db.session.execute(sa.select(Tenant.__table__.c.slug)).scalars().all()  # not tenant-scoped


def test_a_statement_built_once_is_scoped_to_each_tenant_it_runs_in(app):
    """The scoped form of a statement is remembered; the tenant it filters by never is."""
    acme, globex = create_tenant(app, "acme"), create_tenant(app, "globex")
    add_users(app, acme, "a@example.com")
    add_users(app, globex, "g@example.com")
    emails = sa.select(AppUser.email)
    with app.app_context():
        for tenant, expected in [(acme, ["a@example.com"]), (globex, ["g@example.com"]), (acme, ["a@example.com"])]:
            with tenant_scope(tenant):
                assert list(db.session.scalars(emails)) == expected


# The table-level fast path for hot reads.

USERS = AppUser.__table__
EMAILS = sa.select(USERS.c.email).where(tenant_filter(USERS)).order_by(USERS.c.email)


def test_read_rows_sees_only_the_current_tenant(app):
    acme, globex = create_tenant(app, "acme"), create_tenant(app, "globex")
    add_users(app, acme, "a1@example.com", "a2@example.com")
    add_users(app, globex, "g@example.com")
    with app.app_context():
        with tenant_scope(acme):
            assert [row.email for row in read_rows(EMAILS, {})] == ["a1@example.com", "a2@example.com"]
            # The tenant is always bound by read_rows itself, never taken from the caller.
            assert len(read_rows(EMAILS, {TENANT_PARAMETER: globex})) == 2
        with tenant_scope(globex):
            assert [row.email for row in read_rows(EMAILS, {})] == ["g@example.com"]


def test_read_rows_with_no_tenant_fails_closed(app):
    with app.app_context(), pytest.raises(TenantRequired):
        read_rows(EMAILS, {})


@pytest.mark.parametrize(
    "statement",
    [
        sa.select(USERS.c.email),
        sa.select(USERS.c.email).where(sa.or_(USERS.c.role == "admin", tenant_filter(USERS))),
        sa.select(USERS.c.email).where(USERS.c.tenant_id == sa.bindparam("tenant")),
        sa.select(USERS.alias().c.email),
        sa.select(USERS.c.email).where(tenant_filter(USERS), USERS.c.id.in_(sa.select(USERS.c.id))),
        sa.select(USERS.c.email, sa.select(sa.func.count()).select_from(USERS).scalar_subquery()).where(
            tenant_filter(USERS)
        ),
        sa.select(Tenant.__table__.c.slug, USERS.c.email).join_from(
            Tenant.__table__, USERS, USERS.c.tenant_id == Tenant.__table__.c.id
        ),
    ],
    ids=["no filter", "filter inside OR", "caller's tenant", "alias", "IN subquery", "scalar subquery", "join"],
)
def test_read_rows_refuses_statements_that_could_cross_tenants(app, statement):
    acme = create_tenant(app, "acme")
    with app.app_context(), tenant_scope(acme), pytest.raises(TenantRequired, match="tenant_filter"):
        read_rows(statement, {"tenant": acme})


def test_read_rows_allows_unscoped_tables_beside_filtered_ones(app):
    acme = create_tenant(app, "acme")
    add_users(app, acme, "a@example.com")
    tenants = Tenant.__table__
    joined = sa.select(tenants.c.slug, USERS.c.email).join_from(tenants, USERS, USERS.c.tenant_id == tenants.c.id)
    with app.app_context(), tenant_scope(acme):
        assert [tuple(row) for row in read_rows(joined.where(tenant_filter(USERS)), {})] == [("acme", "a@example.com")]


def test_insert_row_stamps_the_current_tenant_and_commits(app):
    acme, globex = create_tenant(app, "acme"), create_tenant(app, "globex")
    row = {"id": "u-insert-row", "email": "i@example.com", "password_hash": "x", "role": "authenticated"}
    with app.app_context():
        with tenant_scope(acme):
            insert_row(USERS, {**row, "user_metadata": {}, "created_at": utcnow(), "updated_at": utcnow()})
        with tenant_scope(globex):
            assert read_rows(EMAILS, {}) == []
        with tenant_scope(acme):
            assert [row.email for row in read_rows(EMAILS, {})] == ["i@example.com"]


def test_insert_row_refuses_a_callers_tenant_and_a_missing_one(app):
    globex = create_tenant(app, "globex")
    with app.app_context(), pytest.raises(TenantRequired):
        insert_row(USERS, {"id": "u-none", "email": "n@example.com"})
    with app.app_context(), tenant_scope(globex), pytest.raises(TenantRequired, match="leave it out"):
        insert_row(USERS, {"id": "u-other", "email": "o@example.com", "tenant_id": globex})
    with app.app_context(), tenant_scope(globex):
        assert read_rows(EMAILS, {}) == []
