"""The hotline's return channel as the administrator and a supervisor see it in the browser: the
callback address set on the login's page (the made secret shown once, then masked), and the list
of failing callbacks with "send again"."""
import re
from datetime import datetime, timezone

import sqlalchemy as sa
from playwright.sync_api import expect

from engine.cases import services
from engine.persistence.models import AccountEvent, CallbackEndpoint, OutboxMessage, User
from tests.engine.helpers import actor
from tests.engine.test_hotline_callbacks import ORDER

from .pages import assert_clean, login


def test_the_administrator_sets_the_callback_and_a_supervisor_sends_a_failing_one_again(
        new_page, shots, session_factory):
    session = session_factory()
    try:
        hotline = session.scalar(sa.select(User.id).where(User.username == "hotline"))
        admin = new_page()
        login(admin, "admin")
        admin.goto(f"/admin/users/{hotline}")
        admin.fill("input[name=callback_url]", "http://hotline.example.cn/callback")
        admin.click("#callback button.primary")
        expect(admin.locator("#callback .error")).to_contain_text("https://")
        admin.fill("input[name=callback_url]", "https://hotline.example.cn/12345/callback")
        admin.click("#callback button.primary")
        secret = admin.locator("#secret-made").inner_text()
        assert len(secret) >= 32
        shots(admin, "hotline-callback-secret-shown-once")
        admin.goto(f"/admin/users/{hotline}")
        assert secret not in admin.content()
        expect(admin.locator("input[name=callback_secret]")).to_have_attribute("placeholder", "••••••••")
        shots(admin, "hotline-callback-masked")

        # The hotline files an order; its acceptance was refused three times by its receiver.
        case = services.start_case(session, actor(session, "hotline"), "intake", data=ORDER, new_despite_repeats=True,
                                   external_ref="GD20261201-0300")
        session.execute(sa.update(OutboxMessage).where(OutboxMessage.case_id == case.id).values(
            attempts=3, error="HTTP 502 Bad Gateway", next_attempt_at=datetime(2026, 12, 1, 2, 7, tzinfo=timezone.utc)))
        session.commit()
        supervisor = new_page()
        login(supervisor, "supervisor")
        supervisor.goto("/supervision/dashboard")
        tab = supervisor.locator("nav.tabs a", has_text="回告失败")
        expect(tab.locator(".count")).to_have_text("2")
        tab.click()
        rows = supervisor.locator("#failing-callbacks tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text(case.code)
        expect(rows.first).to_contain_text("GD20261201-0300")
        expect(rows.first).to_contain_text("HTTP 502")
        expect(rows.nth(1)).to_contain_text("办理过程 · 分流")
        shots(supervisor, "hotline-failing-callbacks")
        rows.first.locator("button", has_text="重新发送").click()
        expect(supervisor.locator(".flash-success")).to_contain_text("下一轮")
        expect(supervisor.locator("#failing-callbacks tbody tr")).to_have_count(2)  # still listed until it goes
        assert re.search(r"/supervision/callbacks$", supervisor.url)
        assert_clean(admin, supervisor)
    finally:
        session.rollback()
        session.execute(sa.delete(CallbackEndpoint))
        session.execute(sa.delete(AccountEvent).where(AccountEvent.kind == "callback_set"))
        session.commit()
        session.close()
