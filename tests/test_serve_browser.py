"""The page at `/`, in a real headless Chromium (Debian's, driven by Playwright): fill the
prompt, press Generate, see the image and its seed; a second run goes into the recent list.

Set DIFFBLOCKS_SCREENSHOT=path to also save a screenshot (docs/img/serve_page.png is made so).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_serve import PROCESSES, start_server

pytestmark = pytest.mark.slow  # a browser and a model server
CHROMIUM = os.environ.get("DIFFBLOCKS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server():
    proc, url = start_server("shapes.text2img", "--max-wait-ms", "0")
    yield url
    PROCESSES.pop(url, None)
    proc.terminate()
    proc.wait(60)


@pytest.fixture(scope="module")
def page():
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM}: scripts/setup.sh installs Debian's chromium (as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser.new_page(viewport={"width": 1100, "height": 720})
        browser.close()


def test_fill_the_prompt_press_generate_see_the_image(server, page):
    page.goto(server + "/")
    page.wait_for_selector("#in-prompt")
    # the form is generated from /v1/schema: every input, with its declared default shown
    assert page.get_attribute("#in-num_inference_steps", "placeholder") == "20"
    assert page.is_visible("#in-guidance_scale") and page.is_visible("#in-seed")
    assert page.get_attribute("#in-num_images_per_prompt", "type") == "number"
    page.fill("#in-prompt", "a red circle")
    page.fill("#in-num_inference_steps", "6")
    page.fill("#in-seed", "7")
    page.click("#generate")
    page.wait_for_function(
        "document.querySelector('#image') && document.querySelector('#image').naturalWidth > 0",
        timeout=120_000,
    )
    assert page.evaluate("document.querySelector('#image').naturalWidth") == 32
    assert page.inner_text("#seed").startswith("seed 7 ")
    assert page.inner_text("#error") == ""

    page.fill("#in-prompt", "a blue square")
    page.fill("#in-seed", "")  # the server picks a seed and the page shows it
    page.click("#generate")
    page.wait_for_function("document.querySelectorAll('#history figure').length == 2", timeout=120_000)
    assert "a blue square" in page.inner_text("#history figure:first-child figcaption")
    assert "seed 7 " not in page.inner_text("#seed")
    if os.environ.get("DIFFBLOCKS_SCREENSHOT"):
        page.screenshot(path=os.environ["DIFFBLOCKS_SCREENSHOT"], full_page=True)


def test_errors_are_shown_next_to_the_form(server, page):
    page.goto(server + "/")
    page.wait_for_selector("#in-prompt")
    page.fill("#in-prompt", "a purple circle")
    page.fill("#in-num_inference_steps", "2")
    page.click("#generate")
    page.wait_for_function("document.querySelector('#error').textContent.length > 0", timeout=120_000)
    text = page.inner_text("#error")
    assert "purple" in text and "text_encoder" in text


def test_a_seed_the_page_cannot_send_exactly_is_refused_before_sending(server, page):
    page.goto(server + "/")
    page.wait_for_selector("#in-seed")
    page.fill("#in-prompt", "a red circle")
    page.fill("#in-seed", "18446744073709551615")  # 2**64 - 1: the API takes it, a JS number cannot
    page.click("#generate")
    page.wait_for_function("document.querySelector('#error').textContent.length > 0", timeout=30_000)
    text = page.inner_text("#error")
    assert "seed: 18446744073709551615 is not a whole number this page can send exactly" in text
    assert "9007199254740991" in text
