"""Accounts and roles: what each role may and may not do, in the workflow layer and through the app.

The roles (DESIGN.md "Roles"): gis_staff publishes and switches surveys,
planner saves policies, sites and scenarios, decision_maker reads, compares
and exports, admin manages accounts (and may do everything). Enterprise tax
and output are hidden from the decision-maker. A workspace with no accounts
is used by a single local user with no sign-in, as before.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from planner import workflow as W
from planner.classify import policy as pol
from planner.cli import main
from planner.io.store import GpkgStore, open_store
from planner.workflow import accounts as A
from planner.workflow import permissions as P
from planner.workflow.visibility import hide_parcel_figures
from tests._text import rendered
from tests.e2e._workspace import build_workspace, grid_parcels

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORDS = {"ada": "admin-pass-1", "gus": "gis-pass-22", "pam": "planner-pass-3", "dee": "decider-pass-4"}
ROLE_OF = {"ada": "admin", "gus": "gis_staff", "pam": "planner", "dee": "decision_maker"}


def _with_accounts(ws) -> None:
    for name, role in ROLE_OF.items():
        A.add_user(ws, name, role, PASSWORDS[name], display_name=name.title())


@pytest.fixture(scope="module")
def office(tmp_path_factory) -> Path:
    """A small classified workspace with sites, a saved scenario, and one account per role."""
    return build_office(tmp_path_factory.mktemp("office") / "ws.gpkg")


def build_office(path: Path) -> Path:
    """The :func:`office` workspace at ``path`` (for other test modules' fixtures)."""
    ws = build_workspace(path)
    store = GpkgStore(ws)
    from planner import scenarios

    store.save_doc("scenario", "top5", scenarios.Scenario(name="top5", sites=scenarios.SiteSelection(top=5)).to_dict())
    W.classify_workspace(store, W.PolicyDoc(pol.default_policy()))
    W.build_workspace_sites(store)
    _with_accounts(store)
    return ws


@contextlib.contextmanager
def acting(username: str | None, role: str | None):
    """Act as a signed-in account (what the app's sign-in tells the workflow layer)."""
    P.set_actor_provider(lambda store: P.Actor(username, role))
    try:
        yield
    finally:
        P.set_actor_provider(None)


def _copy(office: Path, tmp_path: Path) -> GpkgStore:
    p = tmp_path / "ws.gpkg"
    p.write_bytes(office.read_bytes())
    return GpkgStore(p)


# --------------------------------------------------------------------------- the workflow layer
def _actions(store: GpkgStore) -> dict:
    """One write of each kind, through the workflow layer."""
    parcels = grid_parcels(4)
    doc = W.PolicyDoc(pol.default_policy())
    return {
        "publish": lambda: W.publish_survey(parcels.to_crs(store.crs), store, mode="update"),
        "set_current": lambda: W.operations.set_current_survey(store, 1),
        "save_policy": lambda: W.save_document(store, W.PolicyDoc(pol.default_policy())),
        "classify": lambda: W.classify_workspace(store, doc),
        "build_sites": lambda: W.build_workspace_sites(store),
        "save_scenario": lambda: W.save_document(store, W.load_document(store, "scenario", "top5")),
        "manage_users": lambda: A.add_user(store, f"new{time.monotonic_ns()}", "planner", "another-pass-9"),
    }


ALLOWED = {
    "admin": {"publish", "set_current", "save_policy", "classify", "build_sites", "save_scenario", "manage_users"},
    "gis_staff": {"publish", "set_current"},
    "planner": {"save_policy", "classify", "build_sites", "save_scenario"},
    "decision_maker": set(),
}


@pytest.mark.parametrize("role", list(ALLOWED))
def test_each_role_may_do_its_own_work_and_nothing_else(office, tmp_path, role):
    store = _copy(office, tmp_path)
    user = next(u for u, r in ROLE_OF.items() if r == role)
    for action, run in _actions(store).items():
        n_audit = len(store.audit_log())
        with acting(user, role):
            if action in ALLOWED[role]:
                run()
                new = store.audit_log().iloc[n_audit:]
                assert len(new) >= 1 and set(new["user"]) == {user}, (action, new)  # the signed-in user is recorded
            else:
                with pytest.raises(P.PermissionDenied) as caught:
                    run()
                assert user in str(caught.value) and "ask an administrator" in str(caught.value).lower()
                assert len(store.audit_log()) == n_audit, f"{role} {action}: something was written"
    with acting(user, role):  # reading is every role's
        assert len(store.read_parcels()) == 576 and len(W.document_names(store, "scenario")) >= 1


def test_nobody_signed_in_may_write_and_no_accounts_means_a_single_local_user(office, tmp_path):
    store = _copy(office, tmp_path)
    with acting("(not signed in)", None), pytest.raises(P.PermissionDenied, match="(?i)sign in"):
        W.save_document(store, W.PolicyDoc(pol.default_policy()))
    plain = GpkgStore(tmp_path / "plain.gpkg", crs="EPSG:4549", create=True)
    assert not A.accounts_enabled(plain)
    W.save_document(plain, W.PolicyDoc(pol.default_policy()))  # no accounts, no provider: allowed as before
    assert len(plain.docs()) == 1


def test_accounts_are_hashed_checked_and_managed(office, tmp_path, capsys, monkeypatch):
    store = _copy(office, tmp_path)
    rec = store.user_record("pam")
    assert rec["password_hash"].startswith("$argon2id$") and PASSWORDS["pam"] not in rec["password_hash"]
    assert A.authenticate(store, "pam", PASSWORDS["pam"]).role == "planner"
    for name, pw in (("pam", "wrong-password"), ("nobody", "whatever-pass")):
        with pytest.raises(A.SignInError) as caught:
            A.authenticate(store, name, pw)
        assert str(caught.value) == "wrong user name or password (or the account is disabled)"
    with pytest.raises(A.AccountError, match="at least 8"):
        A.add_user(store, "shorty", "planner", "short")
    with pytest.raises(A.AccountError, match="role 'boss'"):
        A.add_user(store, "x1", "boss", "long-enough-1")
    # the CLI: list, set a role, disable; the last administrator cannot be demoted or disabled
    ws = str(store.path)
    assert main(["users", "list", "-w", ws]) == 0
    out = capsys.readouterr().out
    assert "decision_maker" in out and "argon2" not in out
    assert main(["users", "set-role", "dee", "planner", "-w", ws]) == 0
    assert store.user_record("dee")["role"] == "planner"
    assert main(["users", "disable", "pam", "-w", ws]) == 0
    with pytest.raises(A.SignInError):
        A.authenticate(store, "pam", PASSWORDS["pam"])
    assert main(["users", "set-role", "ada", "planner", "-w", ws]) == 2
    assert "last administrator" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a-new-pass-77\n"))
    assert main(["users", "passwd", "gus", "--password-stdin", "-w", ws]) == 0
    assert A.authenticate(store, "gus", "a-new-pass-77").role == "gis_staff"
    log = store.audit_log()
    assert {"user_add", "user_set_role", "user_disable", "user_password"} <= set(log["action"])


def test_accounts_live_in_the_workspace_on_both_backends(store):
    A.add_user(store, "ada", "admin", PASSWORDS["ada"])
    A.add_user(store, "dee", "decision_maker", PASSWORDS["dee"], user="ada")
    assert A.accounts_enabled(store)
    assert A.authenticate(store, "dee", PASSWORDS["dee"]).role == "decision_maker"
    assert store.users()["username"].tolist() == ["ada", "dee"]
    assert store.audit_log()["action"].tolist() == ["user_add", "user_add"]


def test_enterprise_figures_are_hidden_from_the_decision_maker(office):
    store = GpkgStore(office)
    flagged = W.classify_workspace(store, W.PolicyDoc(pol.default_policy()), save=False).flagged
    shown = hide_parcel_figures(flagged)
    for c in ("tax_cny", "output_cny", "tax_per_mu", "output_per_mu", "grade"):
        assert c in flagged.columns and c not in shown.columns
    assert not shown["reason_zh"].str.contains(r"亩均税收 \d", regex=True).any()
    low = flagged["reason_zh"].str.contains("亩均税收 ", regex=False)
    assert low.any() and shown.loc[low, "reason_zh"].str.contains("数值不可见").all()
    assert shown["three_low"].equals(flagged["three_low"])  # the verdicts stay
    from planner.workflow.visibility import figures_visible

    for user, role in ROLE_OF.items():
        with acting(user, role):
            assert figures_visible(store) == (role != "decision_maker")


# --------------------------------------------------------------------------- the app
def _app(ws: Path, monkeypatch, **env) -> AppTest:
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at


def _sign_in(at: AppTest, user: str, password: str | None = None) -> AppTest:
    at.text_input(key="auth_user").set_value(user)
    at.text_input(key="auth_password").set_value(password or PASSWORDS[user])
    next(b for b in at.button if b.label in ("登录", "Sign in")).click().run()
    return at


def _texts(at: AppTest) -> str:
    parts = [rendered(getattr(e, "value", "")) for kind in ("markdown", "caption", "error", "warning", "info",
                                                            "success") for e in getattr(at, kind)]
    for d in at.dataframe:
        parts.append(" ".join(map(str, d.value.columns)) + " " + d.value.astype(str).to_string())
    return "\n".join(parts)


def test_the_app_asks_for_a_sign_in_and_refuses_a_wrong_one(office, monkeypatch):
    at = _app(office, monkeypatch)
    assert not at.exception
    assert at.title[0].value == "登录" and not at.metric  # no page behind the form
    _sign_in(at, "pam", "not-the-password")
    assert any("用户名或密码错误" in e.value for e in at.error)
    assert not at.metric
    _sign_in(at, "pam")
    assert not at.exception, [e.message for e in at.exception]
    assert any("已登录：Pam（规划人员）" in c.value for c in at.sidebar.caption)
    assert len(at.metric) >= 4  # the map page
    next(b for b in at.sidebar.button if b.key == "auth_sign_out").click().run()
    assert at.title[0].value == "登录"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_sign_ins_in_a_row_make_the_name_wait():
    clock = _Clock()
    th = A.SignInThrottle(clock)
    for _ in range(A.SignInThrottle.FREE - 1):
        th.failed("Pam ")
    assert th.wait_left("pam") == 0  # four mistypes: no wait
    th.failed("pam")
    assert th.wait_left("PAM") == 60 and th.wait_left("dee") == 0  # the name, however typed; others unaffected
    clock.now += 61
    assert th.wait_left("pam") == 0
    th.failed("pam")
    assert th.wait_left("pam") == 300
    clock.now += 301
    th.failed("pam")
    th.failed("pam")
    assert th.wait_left("pam") == 900  # the longest wait, however many more
    th.succeeded("pam")
    assert th.wait_left("pam") == 0
    for i in range(A.SignInThrottle.MAX_NAMES + 10):  # a guesser trying endless names: memory stays bounded
        th.failed(f"n{i}")
    assert len(th._fails) == A.SignInThrottle.MAX_NAMES
    th.failed("x" * 10_000_000)  # a typed megabyte is not kept whole
    assert max(map(len, th._fails)) <= 100


def test_a_guessed_name_waits_in_the_app_and_a_colleague_signs_in(office, monkeypatch, caplog):
    """Sign-in had no limit but 0.2 s a try: a script could guess a colleague's password at thousands of tries an
    hour. After five failures in a row the name waits (the right password too, unchecked); others sign in."""
    from planner.ui import auth

    clock = _Clock()
    monkeypatch.setattr(auth, "THROTTLE", A.SignInThrottle(clock))
    at = _app(office, monkeypatch)
    for i in range(A.SignInThrottle.FREE):
        _sign_in(at, "pam", f"guess-{i}-xxxx")
        assert any("用户名或密码错误" in e.value for e in at.error)
    _sign_in(at, "pam")  # the right password, while the name waits
    assert at.title[0].value == "登录" and any("登录失败次数过多" in e.value and "1 分钟" in e.value for e in at.error)
    assert "'pam' failed too often" in caplog.text and "guess-" not in caplog.text
    _sign_in(at, "nobody", "whatever-pass")  # a name with no account waits alike after five
    _sign_in(at, "dee")
    assert not at.exception and any("Dee" in c.value for c in at.sidebar.caption)
    next(b for b in at.sidebar.button if b.key == "auth_sign_out").click().run()
    clock.now += 61
    _sign_in(at, "pam")
    assert any("已登录：Pam" in c.value for c in at.sidebar.caption)


def test_a_session_expires_and_a_disabled_account_is_let_go_at_once(office, tmp_path, monkeypatch):
    store = _copy(office, tmp_path)
    at = _app(store.path, monkeypatch, PLANNER_IDLE_MINUTES="0.02")  # 1.2 s without a page run
    _sign_in(at, "gus")
    assert len(at.metric) >= 4
    time.sleep(1.5)
    at.run()
    assert at.title[0].value == "登录" and any("会话已过期" in w.value for w in at.warning)
    monkeypatch.setenv("PLANNER_IDLE_MINUTES", "60")
    _sign_in(at, "gus")
    assert len(at.metric) >= 4
    A.set_disabled(store, "gus", user="ada")
    at.run()
    assert at.title[0].value == "登录" and any("停用" in w.value for w in at.warning)


def test_a_decision_maker_cannot_publish_roll_back_or_save_a_policy_even_on_the_page(office, tmp_path, monkeypatch):
    store = _copy(office, tmp_path)
    before = (len(store.surveys()), len(store.docs()), len(store.audit_log()))
    at = _sign_in(_app(store.path, monkeypatch), "dee")
    # the data manager's upload is disabled for this role (it says who may); the workflow layer refuses anyway
    at.switch_page("views/data.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.get("file_uploader")[0].proto.disabled
    with acting("dee", "decision_maker"), pytest.raises(P.PermissionDenied, match="only GIS staff or Administrator"):
        W.publish_survey(grid_parcels(4).to_crs(store.crs), store, mode="update")
    at.switch_page("views/rules.py").run()
    at.text_input(key="r_name").set_value("dee_rules").run()
    assert at.button(key="rules_save").disabled  # the button says who may; the workflow layer refuses anyway
    with acting("dee", "decision_maker"), pytest.raises(P.PermissionDenied):
        W.save_document(store, W.PolicyDoc(pol.default_policy()).renamed("dee_rules"))
    # roll back: the data manager's switch of the current survey
    at.switch_page("views/data.py").run()
    for b in [b for b in at.button if b.key in ("dm_set",)]:
        b.click().run()
    assert not at.exception, [e.message for e in at.exception]
    with acting("dee", "decision_maker"), pytest.raises(P.PermissionDenied):
        W.operations.set_current_survey(store, 1)
    assert (len(store.surveys()), len(store.docs()), len(store.audit_log())) == before
    # the admin page is not even registered for this session (its URL falls back to the map)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/admin.py")


def test_tax_is_hidden_in_the_decision_makers_map_tables_and_reports(office, monkeypatch):
    at = _sign_in(_app(office, monkeypatch), "dee")
    text = _texts(at)
    assert "不可见" in text  # the page says figures are hidden
    colour = at.selectbox(key="ex_color_zh")
    assert not any("税" in o or "产值" in o for o in colour.options)
    at.switch_page("views/scenarios.py").run()
    assert not at.exception, [e.message for e in at.exception]
    tax = next(m for m in at.metric if "税" in m.label)
    assert tax.value in ("—", "–")  # no figure
    at.switch_page("views/compare.py").run()  # the comparison and its downloads come from the same blanked results
    assert not at.exception, [e.message for e in at.exception]
    assert all(m.value in ("—", "–") for m in at.metric if "税" in m.label)
    # the planner sees them
    at2 = _sign_in(_app(office, monkeypatch), "pam")
    colour = at2.selectbox(key="ex_color_zh")
    assert any("税" in o for o in colour.options)
    at2.switch_page("views/scenarios.py").run()
    assert next(m for m in at2.metric if "税" in m.label).value not in ("—", "–")


def test_the_admin_manages_accounts_on_the_admin_page(office, tmp_path, monkeypatch):
    store = _copy(office, tmp_path)
    at = _sign_in(_app(store.path, monkeypatch), "ada")
    at.switch_page("views/admin.py").run()
    assert not at.exception, [e.message for e in at.exception]
    shown = at.dataframe[0].value
    assert set(shown.iloc[:, 0]) == set(ROLE_OF) and not shown.astype(str).apply(
        lambda c: c.str.contains("argon2")).any().any()
    at.text_input(key="admin_add_user").set_value("neo")
    at.text_input(key="admin_add_pw").set_value("neo-pass-123")
    at.selectbox(key="admin_add_role").set_value("gis_staff")
    next(b for b in at.button if b.label == "添加账号").click().run()
    assert store.user_record("neo")["role"] == "gis_staff"
    log = store.audit_log()
    assert log.iloc[-1]["user"] == "ada" and log.iloc[-1]["action"] == "user_add"
    assert isinstance(pd.Timestamp.now(), pd.Timestamp)


def test_without_accounts_the_app_runs_as_before(tmp_path, monkeypatch):
    ws = build_workspace(tmp_path / "plain.gpkg")
    at = _app(ws, monkeypatch)
    assert not at.exception and len(at.metric) >= 4 and at.title[0].value != "登录"
    assert open_store(ws).users().empty


def test_accounts_that_cannot_be_read_keep_everyone_out_and_nobody_signed_out(office, tmp_path, monkeypatch):
    """A database hiccup on the accounts read fails closed: no page, no sign-in form, no write; the session stays."""
    from planner.errors import StoreError
    from planner.ui import auth

    store = _copy(office, tmp_path)
    at = _sign_in(_app(store.path, monkeypatch), "pam")
    assert len(at.metric) >= 4
    before = len(store.audit_log())
    real = GpkgStore.users

    def down(self):
        raise StoreError("no free database connection after 60 s")

    monkeypatch.setattr(GpkgStore, "users", down)
    auth._accounts.clear()  # the next page run reads them again (30 s cache)
    at.switch_page("views/rules.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("无法读取工作空间的账号" in e.value and "no free database connection" in e.value  # and why
               for e in at.error), [e.value for e in at.error]
    assert not at.metric and not at.number_input and not at.text_input  # no page, no sign-in form
    assert at.session_state[auth.AUTH]["username"] == "pam"  # not signed out ("account disabled")
    fresh = _app(store.path, monkeypatch)  # a new visitor meanwhile: neither the pages nor a form
    assert not fresh.exception and not fresh.metric and not fresh.text_input
    assert any("无法读取工作空间的账号" in e.value for e in fresh.error)
    monkeypatch.setattr(GpkgStore, "users", real)
    auth._accounts.clear()
    at.run()  # back: the same session, the page it asked for, no new sign-in
    assert not at.exception and at.title[0].value == "三低识别" and at.number_input
    assert len(store.audit_log()) == before
    calls = []

    def blip(self):  # one failed read (a connection the server dropped): asked again, nobody notices
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("server closed the connection unexpectedly")
        return real(self)

    monkeypatch.setattr(GpkgStore, "users", blip)
    auth._accounts.clear()
    at.run()
    assert len(calls) >= 2 and not at.exception and not at.error and at.number_input

