"""What the browser tests do on a page as a person would: log in, pick an option, find a field."""
from playwright.sync_api import expect

from engine.demo import DEMO_PASSWORD


def login(page, username, shot=None):
    page.goto("/login")
    expect(page.locator("h1")).to_have_text("登录")
    if shot:
        shot(page, "login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form button.primary")
    expect(page.locator(".topbar .who")).to_be_visible()
    assert "/login" not in page.url


def choose(page, selector, value):
    """Pick an option with the keyboard, as a person would (Playwright's select_option sets the
    value from script, which the browser does not count as the user's own change)."""
    control = page.locator(selector)
    control.focus()
    for _ in range(40):
        if control.input_value() == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{selector}: no option {value!r}")


def field_of(page, name):
    """The .field block holding the input named `name`: its label, control and error text."""
    return page.locator(".field").filter(has=page.locator(f"[name='{name}']"))


def assert_clean(*pages):
    """No script error and every stylesheet, script and image served, on each page."""
    for page in pages:
        assert not page.js_errors, page.js_errors
        assert not page.failed_assets, page.failed_assets
