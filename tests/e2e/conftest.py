"""Fixtures for the end-to-end tests: headless Chromium (Debian's Chromium and its driver, installed when
missing, never skipped)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from tests.e2e.browser import CHROMIUM_FLAGS


@pytest.fixture(scope="session")
def chromium() -> None:
    """Debian's Chromium and its driver: installed when missing, never skipped."""
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"], check=True)


@pytest.fixture
def browser(chromium: None, tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,900"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    yield driver
    # Every page test also proves the pages run under the server's Content-Security-Policy (ivr/web/headers.py).
    refused = [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]
    driver.quit()
    assert not refused, refused
