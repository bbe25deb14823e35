"""A real browser for the viewer's tests: Debian's chromium driven by Selenium.

The browser is part of the test setup, never optional by accident: when chromium or
its driver is missing, the session installs them with apt-get (as root, the way
.ci/run does first); when that cannot be done the tests fail and say why. They skip
only when switched off explicitly with COWFAST_BROWSER_TESTS=0, and never in CI.
Screenshots go to COWFAST_ARTIFACTS (default artifacts/) under viewer/.
"""
import os
import pathlib
import shutil
import subprocess

import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PACKAGES = ["chromium", "chromium-driver", "fonts-liberation"]


def install_browser():
    """apt-get chromium and chromium-driver if they are missing; return a reason on failure."""
    if os.path.exists(CHROMIUM) and os.path.exists(DRIVER):
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"{CHROMIUM} or {DRIVER} missing: apt-get install {' '.join(PACKAGES)} as root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode:
            return f"{' '.join(cmd)} failed: {done.stderr[-2000:]}"
    return None


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the session, logging console messages and network events."""
    if os.environ.get("COWFAST_BROWSER_TESTS") == "0" and not os.environ.get("CI"):
        pytest.skip("browser tests switched off by COWFAST_BROWSER_TESTS=0")
    problem = install_browser()
    if problem:
        pytest.fail(f"the viewer's browser tests need a browser: {problem}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,720", "--disable-background-networking",
                "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def artifacts():
    """Where screenshots go (CI keeps them): $COWFAST_ARTIFACTS/viewer, default artifacts/."""
    root = pathlib.Path(os.environ.get("COWFAST_ARTIFACTS", "artifacts")) / "viewer"
    root.mkdir(parents=True, exist_ok=True)
    return root
