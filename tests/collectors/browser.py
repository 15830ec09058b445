"""Real headless Chromium for the dashboard tests, driven over WebDriver (selenium with
Debian's chromedriver). Loopback only; every wait is bounded."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts" / "dashboard"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")
WAIT = 15.0


def replaced(element: WebElement) -> bool:
    """Whether the page that held ``element`` is gone. Chromium sometimes answers for an element
    of a replaced document with "does not belong to the document" instead of a stale reference."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


class Browser:
    """One Chromium with a fresh profile; ``go`` loads a page and waits for it to finish."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.profile = tempfile.mkdtemp(prefix="fedharden-chromium-")
        self.downloads = Path(tempfile.mkdtemp(prefix="fedharden-downloads-"))
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.add_experimental_option("prefs", {"download.default_directory": str(self.downloads),
                                                  "download.prompt_for_download": False})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(WAIT)
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow",
                                                                   "downloadPath": str(self.downloads)})

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
            shutil.rmtree(self.downloads, ignore_errors=True)

    def go(self, path: str) -> None:
        self.driver.get(self.base_url + path)
        self.wait_loaded()

    def wait_loaded(self) -> None:
        WebDriverWait(self.driver, WAIT).until(lambda d: d.execute_script("return document.readyState") == "complete")

    @property
    def path(self) -> str:
        url: str = self.driver.current_url
        return url[len(self.base_url):] if url.startswith(self.base_url) else url

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def texts(self, css: str) -> list[str]:
        return [e.text for e in self.all(css)]

    def navigate(self, element: WebElement, action: str = "click") -> None:
        """Click (or press Enter on) something that loads a new page, and wait until it has."""
        old = self.find("html")
        if action == "click":
            element.click()
        else:
            element.send_keys(Keys.ENTER)
        WebDriverWait(self.driver, WAIT).until(lambda _: replaced(old))
        self.wait_loaded()

    def click_link(self, text: str) -> None:
        self.navigate(self.driver.find_element(By.LINK_TEXT, text))

    def click_download(self, text: str) -> None:
        """Click a download link: the page stays, a file arrives (see ``download``)."""
        self.driver.find_element(By.LINK_TEXT, text).click()

    def submit(self, form_css: str) -> None:
        self.navigate(self.find(f"{form_css} button[type=submit]"))

    def login(self, token: str) -> None:
        self.go("/dashboard/login")
        self.find("#token").send_keys(token)
        self.submit("main form")

    def screenshot(self, name: str, full_page: bool = True, max_height: int = 12000) -> Path:
        """A PNG of the whole page (not just the window) under tests/.artifacts/dashboard/."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        if full_page:
            metrics: Any = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = metrics["cssContentSize"]
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height),
                         "scale": 1}})
            import base64

            path.write_bytes(base64.b64decode(shot["data"]))
        else:
            self.driver.save_screenshot(str(path))
        return path

    def pdf(self, name: str) -> Path:
        """The page printed (print stylesheet applied) as PDF."""
        import base64

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.pdf"
        out: Any = self.driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": False})
        path.write_bytes(base64.b64decode(out["data"]))
        return path

    def print_screenshot(self, name: str) -> Path:
        """A PNG of the page as the print stylesheet lays it out."""
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            return self.screenshot(name)
        finally:
            self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    def download(self, name: str, timeout: float = WAIT) -> Path:
        """Wait for a finished download called ``name``."""
        import time

        deadline = time.monotonic() + timeout
        target = self.downloads / name
        while time.monotonic() < deadline:
            if target.exists() and not any(p.suffix == ".crdownload" for p in self.downloads.iterdir()):
                return target
            time.sleep(0.05)
        have = sorted(p.name for p in self.downloads.iterdir())
        raise AssertionError(f"no download {name} within {timeout}s (have {have})")
