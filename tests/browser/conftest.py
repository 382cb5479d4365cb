"""Browser fixtures: the real app served by waitress on a free local port, and Debian's Chromium
driven by Playwright. Full-page screenshots go to test-artifacts/screenshots/ (git-ignored)."""
import os
import re
import threading

import pytest
import sqlalchemy as sa

from engine.access.policy import Actor
from engine.cases import services
from engine.persistence.models import Task, User
from tests.conftest import ROOT, wipe_cases

CHROMIUM = "/usr/bin/chromium"
SHOTS_DIR = ROOT / "test-artifacts" / "screenshots"
TIMEOUT_MS = 10_000
_taken = []


@pytest.fixture(scope="session")
def live_server(schema, session_factory):
    """The whole app (CSRF on) on 127.0.0.1:<free port>, in a daemon thread. Yields the base URL."""
    from waitress.server import create_server

    from webui import create_app
    from webui.extensions import db
    wipe_cases(session_factory)
    app = create_app({"SQLALCHEMY_DATABASE_URI": schema, "TESTING": True})
    assert app.config.get("WTF_CSRF_ENABLED", True), "the browser test runs with CSRF protection on"
    server = create_server(app, host="127.0.0.1", port=0, threads=4, ident="yizhan-test")
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium not installed: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        found = p.chromium.launch(executable_path=CHROMIUM,
                                  args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield found
        found.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped and os.environ.get("CI") and not hasattr(report, "wasxfail"):
        # On a developer's machine without Chromium the browser tests skip; in CI (where `make
        # test` installs it) a skip means the browser tests did not run, which must not pass.
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome, report.longrepr = "failed", f"skipped in CI, where every browser test must run: {reason}"
    if report.when == "call":
        item.call_failed = report.failed
    return report


def watched(page):
    """The page records its script errors and the static files it could not load (assert_clean)."""
    page.js_errors, page.failed_assets = [], []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.on("response", lambda r: page.failed_assets.append(f"{r.status} {r.url}")
            if "/static/" in r.url and r.status >= 400 else None)
    return page


@pytest.fixture
def new_page(request, browser, live_server):
    """new_page() -> a page in a fresh browser context (its own cookies, so its own login), as a
    desktop browser in mainland China would be set up."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                      viewport={"width": 1366, "height": 860})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return watched(context.new_page())

    yield make
    for number, context in enumerate(contexts, 1):
        if getattr(request.node, "call_failed", False):
            for page in context.pages:  # what each person was looking at when the test failed
                path = SHOTS_DIR / f"FAILED-{number}.png"
                try:
                    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(path), full_page=True, timeout=5000)
                    _taken.append(path)
                    text = page.locator("body").inner_text(timeout=1000)
                except Exception as exc:  # the diagnosis must not hide the failure itself
                    text = f"(could not read the page: {exc})"
                print(f"\nFAILED page {number}: {page.url}\n{text[:2000]}")
        context.close()


@pytest.fixture(scope="session")
def shots():
    """shot(page, name): a full-page PNG in test-artifacts/screenshots/, numbered in order taken."""
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    for old in SHOTS_DIR.glob("*.png"):
        old.unlink()
    print(f"\nscreenshots: {SHOTS_DIR}")

    def shot(page, name):
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
        path = SHOTS_DIR / f"{len(_taken) + 1:02d}-{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        _taken.append(path)
        return path

    return shot


def pytest_terminal_summary(terminalreporter):
    if _taken:
        terminalreporter.write_sep("-", "browser screenshots")
        terminalreporter.write_line(f"screenshots: {SHOTS_DIR} ({len(_taken)} files)")


# ---- the walkthrough's case, for scenarios that start later in its story ------------------------
# What the clerk and the mediator type in the browser scenarios, so that a scenario starting later
# finds, built through the engine services, the case the earlier ones would have left.
MATTER = {
    "kind": "dispute", "channel": "visit", "category": "neighbour", "occurred_on": "2026-11-20",
    "place": "东关村三组", "summary": "两户因排水沟堵塞发生争执，雨水倒灌一方院内。",
    "claims": "疏通排水沟并赔偿损失", "people_count": "2", "risk_level": "blue",
    "parties-0-role": "applicant", "parties-0-name": "张三", "parties-0-id_type": "resident_id",
    "parties-0-id_number": "110101199003071234", "parties-0-phone": "13800138000",
    "parties-0-sex": "male", "parties-0-address": "东关村三组12号",
    "parties-1-role": "respondent", "parties-1-name": "李四", "parties-1-id_type": "resident_id",
    "parties-1-id_number": "11010119851212345X", "parties-1-phone": "13900139000",
}
REPEAT_VISIT = {
    "kind": "dispute", "channel": "phone", "category": "neighbour", "place": "东关村三组",
    "summary": "张三来电：排水沟仍未疏通。", "claims": "尽快疏通", "people_count": "1",
    "parties-0-role": "applicant", "parties-0-name": "张三", "parties-0-id_type": "resident_id",
    "parties-0-id_number": "110101199003071234", "parties-0-phone": "13800138000",
}
MEDIATION = {
    "sessions-0-held_on": "2026-11-25", "sessions-0-place": "县人民调解委员会调解室",
    "sessions-0-participants": "张三、李四、村调委会主任", "sessions-0-notes": "双方到场，经释法说理，达成一致。",
    "outcome": "success", "agreement_terms": "李四三日内疏通排水沟并赔偿张三500元。", "amount": "500",
}


class Story:
    """The walkthrough's case as the engine services leave it: its id and code, and acting on it
    as a demo user would. (The engine helpers of tests/engine are not used: they count the flows
    taken for the engine's flow coverage, which browser set-up must not inflate.)"""

    def __init__(self, session_factory):
        self.factory, self.case_id, self.code = session_factory, None, None

    def _as(self, username, verb):
        session = self.factory()
        try:
            user = session.scalar(sa.select(User).where(User.username == username))
            return verb(session, Actor.of(user))
        finally:
            session.close()

    def file(self):
        def start(session, clerk):
            case = services.start_case(session, clerk, "intake", MATTER)
            return case.id, case.code

        self.case_id, self.code = self._as("clerk", start)
        return self

    def repeat_visit(self):
        self._as("clerk", lambda s, who: services.record_repeat_visit(s, who, "intake", self.case_id, REPEAT_VISIT))
        return self

    def mediate(self):
        def claim_and_submit(session, mediator):
            task_id = session.scalar(sa.select(Task.id).where(Task.case_id == self.case_id,
                                                              Task.spec_id == "Task_mediate", Task.state == "ready"))
            services.claim_task(session, mediator, task_id)
            services.complete_task(session, mediator, task_id, MEDIATION)

        self._as("mediator", claim_and_submit)
        return self


@pytest.fixture
def story(live_server, session_factory):
    """A database with no cases, and the means to build the walkthrough's case up to any point."""
    wipe_cases(session_factory)
    return Story(session_factory)


@pytest.fixture
def no_cases_left(live_server, session_factory):
    """The live server is shared by every scenario, and some count what they find: a module that
    files cases starts and ends with none (pytestmark = pytest.mark.usefixtures("no_cases_left"))."""
    wipe_cases(session_factory)
    yield
    wipe_cases(session_factory)
