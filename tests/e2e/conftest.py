"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Without /usr/bin/chromium these tests are skipped, unless REQUIRE_BROWSER=1 (CI) makes that a
failure. Set SCREENSHOT_DIR to keep a PNG of every page a test photographs.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Let fixtures see whether the test failed (to keep a picture of the failing page).
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread until the session
    # ends; the ORM calls made by tests (and database teardown) stay synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def page(request, browser, live_server):
    context = browser.new_context(viewport=request.param, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )
    page.viewport_name = request.node.callspec.id
    yield page
    report = getattr(request.node, "report_call", None)
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder and report is not None and report.failed:
        Path(folder).mkdir(parents=True, exist_ok=True)
        name = f"{folder}/FAILED-{request.node.name}"
        page.screenshot(path=f"{name}.png", full_page=True)
        Path(f"{name}.html").write_text(page.content())
    context.close()
    # A CSP violation or a script error is a bug even when the page looks right.
    assert errors == []


@pytest.fixture
def shot():
    """shot(page, name): save a full-page screenshot when SCREENSHOT_DIR is set."""
    folder = os.environ.get("SCREENSHOT_DIR")

    def _shot(page, name):
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{folder}/{name}-{page.viewport_name}.png", full_page=True)

    return _shot


def sign_in(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def htmx_settled(page):
    """Wait until no htmx request, swap or settle is in progress (typing into a form that is
    about to be swapped would lose the input)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )
