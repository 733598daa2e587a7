"""Browser tests: Playwright driving Debian's chromium against a real store.

One store for the session (SQLite, real signed sample events ingested, the real model
pack for face search, a real webhook receiver), one chromium, a fresh browser context
per test. Screenshots go to test-artifacts/ (gitignored). Every request the page makes
is recorded: tests assert that nothing left the store's own origin.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _helpers() -> ModuleType:
    name = "edgewatch_web_test_helpers"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "integration" / "web" / "helpers.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


helpers = _helpers()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("e2e-store")
    with helpers.open_stack(root, "sqlite", models_dir=models_dir) as s:
        yield s


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def foreign_requests() -> list[str]:
    return []


@pytest.fixture
def open_as(web: Any, browser: Any, foreign_requests: list[str]) -> Iterator[Callable[..., Any]]:
    """open_as(user, width=1280, height=800) -> a logged-in Playwright page."""
    contexts: list[Any] = []

    def open_page(user: str | None, width: int = 1280, height: int = 800) -> Any:
        ctx = browser.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN", accept_downloads=True
        )
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith((web.url, "data:", "blob:"))
                else foreign_requests.append(r.url)
            ),
        )
        if user is not None:
            page.goto(f"{web.url}/login")
            page.get_by_label("用户名").fill(user)
            page.get_by_label("访问令牌").fill(web.tokens[user])
            page.get_by_role("button", name="登录").click()
            page.wait_for_url(f"{web.url}/search")
        return page

    yield open_page
    for ctx in contexts:
        ctx.close()
    assert foreign_requests == [], f"the page reached outside the store: {foreign_requests}"


@pytest.fixture(scope="session")
def shots() -> Callable[[Any, str], Path]:
    ARTIFACTS.mkdir(exist_ok=True)

    def shot(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shot
