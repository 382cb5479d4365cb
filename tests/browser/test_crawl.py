"""Every demo login lands on a working page, and every page a role reaches by following links from
there works: no server error (5xx), no Python traceback on the page, and Chinese on every HTML
page (an English-only page is a framework's bare error page, or text that escaped translation).
The crawl follows same-site links breadth-first with GET only (every change of state is a POST
form here, and nothing with "logout" in it is followed), visiting a few pages of each kind (the
same path but for ids, the same query names) and at most PAGES_PER_ROLE pages per role. Residents'
public pages are looked at in a phone's viewport. Pages and texts change: only these generic
properties are asserted."""
import re
import time
from collections import deque
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.html
import pytest
from playwright.sync_api import expect

from engine.demo import DEMO_PASSWORD, USERS

from .conftest import TIMEOUT_MS
from .pages import assert_clean, login

PAGES_PER_ROLE = 60
SAMPLES_PER_KIND = 3
CHINESE = re.compile(r"[\u4e00-\u9fff]")
TRACEBACK = "Traceback (most recent call last)"
PHONE = {"width": 375, "height": 667}



def _one_login_per_role():
    """The first demo user of each role: the crawl's cost grows with every login it takes."""
    first = {}
    for username, _name, _unit, roles in USERS:
        for role in roles:
            first.setdefault(role, username)
    return list(first.items())


ROLE_LOGINS = _one_login_per_role()


def _kind(url):
    """Pages of one kind: the same path once digits are set aside, the same query names."""
    parts = urlsplit(url)
    return re.sub(r"\d+", "#", parts.path), tuple(sorted({name for name, _ in parse_qsl(parts.query)}))


def _followed(base, href):
    """The absolute same-site URL a link leads to, or None if the crawl does not follow it."""
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
        return None
    url = urljoin(base, href).split("#", 1)[0]
    if urlsplit(url).netloc != urlsplit(base).netloc or "logout" in url.lower() or "/static/" in url:
        return None
    return url


def _problems(url, status, content_type, body):
    found = []
    if status >= 500:
        found.append(f"{status} {url}")
    if TRACEBACK in body:
        found.append(f"traceback on {url}")
    if "text/html" in content_type:
        document = lxml.html.fromstring(body or "<html></html>")
        text = " ".join(document.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]"))
        if not CHINESE.search(text):
            found.append(f"no Chinese on {url}")
    return found


def _links(url, content_type, body):
    if "text/html" not in content_type or not body:
        return []
    document = lxml.html.fromstring(body)
    return [_followed(url, href) for href in document.xpath("//a/@href")]


def crawl(page, start):
    """Breadth-first from `start`, with the page's cookies (its login). -> (pages visited, problems)."""
    queue, seen, kinds = deque([start]), {start}, {}
    visited, problems = [], []
    while queue and len(visited) < PAGES_PER_ROLE:
        url = queue.popleft()
        response = page.request.get(url, timeout=TIMEOUT_MS)
        content_type, body = response.headers.get("content-type", ""), response.text()
        visited.append(f"{response.status} {url}")
        problems += _problems(url, response.status, content_type, body)
        for link in _links(response.url, content_type, body):
            if link is None or link in seen:
                continue
            seen.add(link)
            kind = _kind(link)
            if kinds.get(kind, 0) < SAMPLES_PER_KIND:
                kinds[kind] = kinds.get(kind, 0) + 1
                queue.append(link)
    return visited, problems


@pytest.fixture(scope="module")
def a_case_at_every_stage_seen(session_factory, live_server):
    """One case filed, visited again and mediated: its pages, steps, receipt and history exist for
    the crawl to reach (the story's fixture is per test; this module shares one case)."""
    from tests.conftest import wipe_cases

    from .conftest import Story
    wipe_cases(session_factory)
    story = Story(session_factory).file().repeat_visit().mediate()
    _a_matter_awaiting_acceptance(session_factory)
    _the_demo_meetings(session_factory, story.code)
    return story


def _the_demo_meetings(session_factory, code):
    """The demo's weekly analysis and daily consultation at the county center (load_demo makes
    them again once the wipe took them), the weekly one with the case on its agenda."""
    import sqlalchemy as sa

    from engine.access.policy import Actor
    from engine.cases import meetings
    from engine.demo import load_demo
    from engine.persistence.models import Meeting, User
    session = session_factory()
    try:
        load_demo(session)
        weekly = session.scalar(sa.select(Meeting).where(Meeting.kind == "weekly"))
        boss = Actor.of(session.scalar(sa.select(User).where(User.username == "supervisor")))
        meetings.add_by_code(session, boss, weekly.id, None, code)
    finally:
        session.close()


def _a_matter_awaiting_acceptance(session_factory):
    """A resident's report in the county center's inbox, so the crawl opens the inbox's pages."""
    import sqlalchemy as sa

    from engine.persistence.models import OrgUnit, Submission
    session = session_factory()
    try:
        county = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q"))
        session.add(Submission(code="SQ20261123000777", org_unit_id=county.id, source="resident", kind="dispute",
                               category="neighbour", place="东关村三组", summary="排水沟又堵了。", claims="尽快疏通",
                               parties=[{"name": "张三", "phone": "13800138000", "role": "applicant"}],
                               phone="13800138000"))
        session.commit()
    finally:
        session.close()


def _landed(page):
    """The page a login lands on works, as drawn in the browser."""
    body = page.content()
    assert not _problems(page.url, 200, "text/html", body), body[:2000]
    assert_clean(page)


@pytest.mark.parametrize("username", [username for username, *_ in USERS if username not in dict(ROLE_LOGINS).values()])
def test_every_other_demo_login_lands_on_a_working_page(new_page, username):
    """The real login form (CSRF token and all) over HTTP, without drawing the pages: the first
    login of each role is drawn in the browser where its crawl starts, on the same templates."""
    request = new_page().request
    form = lxml.html.fromstring(request.get("/login").text())
    landed = request.post("/login", form={"csrf_token": form.xpath("//input[@name='csrf_token']/@value")[0],
                                          "username": username, "password": DEMO_PASSWORD})
    assert landed.ok and "/login" not in landed.url, (landed.status, landed.url)
    problems = _problems(landed.url, landed.status, landed.headers.get("content-type", ""), landed.text())
    assert not problems, problems


@pytest.mark.parametrize("role,username", ROLE_LOGINS, ids=[role for role, _ in ROLE_LOGINS])
def test_every_page_a_role_reaches_works(new_page, a_case_at_every_stage_seen, role, username):
    page = new_page()
    login(page, username)
    _landed(page)
    started = time.monotonic()
    visited, problems = crawl(page, page.url)
    print(f"\ncrawl as {role} ({username}): {len(visited)} pages in {time.monotonic() - started:.1f}s")
    assert len(visited) > 1, f"nothing to follow from {page.url}"
    assert not problems, "\n".join(problems)


def _fits_the_phone(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


def test_residents_public_pages_work_on_a_phone(browser, live_server, a_case_at_every_stage_seen):
    context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto("/follow")
        _fits_the_phone(page)
        visited, problems = crawl(page, page.url)
        # A village's filing page, which its QR poster opens.
        page.goto("/r/C01-Q-CG-DG")
        _fits_the_phone(page)
        more, more_problems = crawl(page, page.url)
        visited, problems = visited + more, problems + more_problems
        # The look-up is a POST that changes nothing: a case found, and a code that is not.
        for code in (a_case_at_every_stage_seen.code, "MT0000000000000"):
            page.goto("/follow")
            page.fill("input[name=code]", code)
            page.fill("input[name=phone]", "13900139000")
            with page.expect_navigation() as navigation:
                page.click("form.follow-form button.primary")
            response = navigation.value
            problems += _problems(page.url, response.status, response.headers.get("content-type", ""), page.content())
            visited.append(f"{response.status} POST /follow {code}")
            _fits_the_phone(page)
        expect(page.locator("form.follow-form")).to_be_visible()
        print(f"\nresident pages on a phone: {len(visited)}")
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_the_crawl_fails_on_what_it_must_and_stays_on_the_site():
    assert _problems("/x", 502, "text/plain", "") == ["502 /x"]
    bare = "<html><body><h1>Not Found</h1><script>var label = '未找到';</script></body></html>"
    assert _problems("/x", 404, "text/html; charset=utf-8", bare) == ["no Chinese on /x"]
    crashed = "<html><body><p>出错了</p><pre>Traceback (most recent call last):</pre></body></html>"
    assert _problems("/x", 200, "text/html", crashed) == ["traceback on /x"]
    assert not _problems("/x", 200, "text/html", "<html><body><p>我的待办</p></body></html>")
    base = "http://127.0.0.1:5000/tasks"
    assert _followed(base, "/cases/7?q=1#top") == "http://127.0.0.1:5000/cases/7?q=1"
    for href in ("/logout", "https://example.org/", "/static/app.css", "#main", "mailto:a@b.c"):
        assert _followed(base, href) is None, href
    assert _kind("http://h/cases/7?b=2&a=1") == _kind("http://h/cases/12?a=5&b=1") != _kind("http://h/cases/7")
