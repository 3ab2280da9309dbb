"""Automatic tenant scoping, and which tenant a request acts in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from flux.auth.models import AppUser
from flux.db import db, new_id, separate_session, upsert_insert, utcnow
from flux.tenancy import (
    TENANT_PARAMETER,
    Tenant,
    TenantRequired,
    default_tenant_id,
    read_rows,
    tenant_scope,
)
from tests.conftest import PASSWORD, create_tenant, login, tenant_admin


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


USERS = AppUser.__table__
TABLE_EMAILS = sa.select(USERS.c.email).order_by(USERS.c.email)


def test_table_level_statements_are_scoped_like_orm_ones(app):
    acme, globex = create_tenant(app, "acme"), create_tenant(app, "globex")
    add_users(app, acme, "a@example.com")
    add_users(app, globex, "g@example.com")
    with app.app_context(), tenant_scope(acme):
        assert db.session.scalars(TABLE_EMAILS).all() == ["a@example.com"]
        assert read_rows(TABLE_EMAILS, {TENANT_PARAMETER: globex}) == [("a@example.com",)]
        assert db.session.execute(sa.update(USERS).values(role="admin")).rowcount == 1
        assert db.session.execute(sa.delete(USERS).where(USERS.c.role == "nobody")).rowcount == 0
        db.session.commit()
        explicit = db.session.execute(
            sa.select(USERS.c.email).where(USERS.c.tenant_id == globex), execution_options={"all_tenants": True}
        )
        assert list(explicit.scalars()) == ["g@example.com"]
        assert db.session.execute(sa.select(Tenant.__table__.c.slug)).scalars().all()  # not tenant-scoped
    with app.app_context(), tenant_scope(globex):
        assert read_rows(sa.select(USERS.c.role), {}) == [("authenticated",)]
        assert read_rows(sa.select(Tenant.__table__.c.slug).where(Tenant.__table__.c.slug == "acme"), {}) == [("acme",)]


@pytest.mark.parametrize(
    "statement",
    [
        sa.select(USERS.alias().c.email),
        sa.select(USERS.c.email).where(USERS.c.id.in_(sa.select(USERS.c.id))),
        sa.select(USERS.c.email, sa.select(sa.func.count()).select_from(USERS).scalar_subquery()),
        sa.select(Tenant.__table__.c.slug, USERS.c.email).join_from(
            Tenant.__table__, USERS, USERS.c.tenant_id == Tenant.__table__.c.id
        ),
        sa.select(Tenant.__table__.c.slug).where(Tenant.__table__.c.id.in_(sa.select(USERS.c.tenant_id))),
        sa.delete(USERS).where(USERS.c.id.in_(sa.select(USERS.c.id))),
        sa.insert(USERS).from_select(["email"], sa.select(USERS.c.email)),
    ],
    ids=["alias", "IN subquery", "scalar subquery", "join", "only in a subquery", "DELETE subquery", "INSERT SELECT"],
)
def test_table_level_statements_a_where_cannot_scope_are_refused(app, statement):
    acme = create_tenant(app, "acme")
    with app.app_context(), tenant_scope(acme):
        with pytest.raises(TenantRequired):
            db.session.execute(statement)
        if isinstance(statement, sa.Select):
            with pytest.raises(TenantRequired):
                read_rows(statement, {})


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


# Column reads, INSERT statements and separate sessions: the same mechanism.

EMAILS = sa.select(AppUser.email).order_by(AppUser.email)


def test_column_reads_see_only_the_current_tenant_whatever_the_caller_binds(app):
    acme, globex = create_tenant(app, "acme"), create_tenant(app, "globex")
    add_users(app, acme, "a1@example.com", "a2@example.com")
    add_users(app, globex, "g@example.com")
    with app.app_context():
        with tenant_scope(acme):
            assert db.session.scalars(EMAILS).all() == ["a1@example.com", "a2@example.com"]
            assert db.session.scalars(EMAILS, {TENANT_PARAMETER: globex}).all() == ["a1@example.com", "a2@example.com"]
        with tenant_scope(globex):
            assert db.session.scalars(EMAILS).all() == ["g@example.com"]


def test_reads_and_writes_with_no_tenant_fail_closed(app):
    with app.app_context():
        for statement in (EMAILS, sa.update(AppUser).values(role="admin"), sa.delete(AppUser)):
            with pytest.raises(TenantRequired):
                db.session.execute(statement)
        with pytest.raises(TenantRequired):
            db.session.execute(sa.insert(AppUser).values(email="n@example.com", password_hash="x", role="r"))


def user_row(email: str, **extra) -> dict:
    now = utcnow()
    return {
        "id": new_id(),
        "email": email,
        "password_hash": "x",
        "role": "authenticated",
        "user_metadata": {},
        "created_at": now,
        "updated_at": now,
        **extra,
    }


def test_insert_statements_write_the_current_tenant_whatever_the_caller_gave(app):
    acme, globex = create_tenant(app, "acme"), create_tenant(app, "globex")
    with app.app_context():
        with tenant_scope(acme):
            db.session.execute(sa.insert(AppUser), [user_row("bulk@example.com", tenant_id=globex)])
            db.session.execute(sa.insert(AppUser).values(**user_row("one@example.com", tenant_id=globex)))
            upsert = upsert_insert()(AppUser).values(**user_row("up@example.com", tenant_id=globex))
            db.session.execute(upsert.on_conflict_do_nothing())
            db.session.commit()
        with tenant_scope(globex):
            assert db.session.scalars(EMAILS).all() == []
        with tenant_scope(acme):
            assert db.session.scalars(EMAILS).all() == ["bulk@example.com", "one@example.com", "up@example.com"]


def test_a_separate_session_is_scoped_and_commits_on_its_own(app):
    acme, globex = create_tenant(app, "acme"), create_tenant(app, "globex")
    add_users(app, acme, "a@example.com")
    add_users(app, globex, "g@example.com")
    with app.app_context(), tenant_scope(acme):
        with separate_session() as session:
            assert session.execute(sa.update(AppUser).values(role="admin")).rowcount == 1
        db.session.rollback()  # the request's own session has nothing to do with it
    with app.app_context(), tenant_scope(globex):
        assert db.session.scalars(sa.select(AppUser.role)).all() == ["authenticated"]
    with app.app_context(), tenant_scope(acme):
        assert db.session.scalars(sa.select(AppUser.role)).all() == ["admin"]


# Statements on the engine or a session's connection skip the session's scoping: only these modules may run them.
ENGINE_USERS = {
    "flux/db.py": "the health ping; separate_session; begin_writing",
    "flux/tenancy.py": "read_rows, scoped by the same mechanism",
    "flux/migrate.py": "migrations (every plugin's tables)",
    "flux/cli.py": "key rotation, across every tenant on purpose",
    "flux/crypto/rotation.py": "key rotation, across every tenant on purpose",
    "flux/crypto/canary.py": "the key canary in flux_kv, which no tenant owns",
    "plugins/functions/migrations/functions_0002_encrypted_env.py": "a migration's PRAGMA",
}


def test_only_the_listed_modules_run_statements_on_the_engine():
    root = Path(__file__).resolve().parents[1]
    found = {
        str(path.relative_to(root))
        for folder in ("flux", "plugins")
        for path in (root / folder).rglob("*.py")
        if re.search(
            r"engine\.(connect|begin|raw_connection|execute)\(|connection\(\)\.execute\(|exec_driver_sql\(",
            path.read_text(),
        )
    }
    assert found == set(ENGINE_USERS)
