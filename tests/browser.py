"""Driving the local channel (`python -m bot --local`) in headless Chromium: Debian's chromium and
chromium-driver, found on PATH (Selenium is pointed at them and downloads nothing); the channel itself is
started by tests/bot_process.py. Used by tests/test_local_browser.py and scripts/local_screenshot.py."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import tempfile
import urllib.request

from PIL import Image

from tests.bot_process import WAIT_S

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@contextlib.contextmanager
def chromium(width: int = 1100, height: int = 1300):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="expressions-chromium-") as profile:  # nothing of it left behind
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


class ChannelPage:
    """The channel page open in a browser, read and used as a person would."""

    def __init__(self, driver, url: str):
        from selenium.webdriver.common.by import By

        self.driver, self.by = driver, By
        driver.get(url + "/")
        self.until(self.online, "the bot online")

    def until(self, condition, what: str):
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        # a message redrawn while it is read is read again
        wait = WebDriverWait(self.driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))
        return wait.until(lambda _: condition(), message=what)

    def online(self) -> bool:
        return self.driver.find_element(self.by.ID, "status").get_attribute("data-online") == "true"

    def messages(self) -> list:
        """The messages shown to the user the page is for now."""
        return [m for m in self.driver.find_elements(self.by.CSS_SELECTOR, "#messages .message") if m.is_displayed()]

    def message(self, pattern: str, picture: str = ".jpg"):
        """The newest shown message whose text matches and whose picture (unless `picture` is "") has loaded."""
        for m in reversed(self.messages()):
            if re.search(pattern, m.find_element(self.by.CLASS_NAME, "content").text):
                if not picture:
                    return m
                images = m.find_elements(self.by.CSS_SELECTOR, f"img[data-filename$='{picture}']")
                if images and self.driver.execute_script("return arguments[0].naturalWidth", images[0]):
                    return m
        return None

    def type(self, text: str, enter: bool = True) -> None:
        from selenium.webdriver.common.keys import Keys

        box = self.driver.find_element(self.by.ID, "command")
        box.send_keys(text + (Keys.ENTER if enter else ""))

    def buttons(self, message) -> list[str]:
        return [b.text for b in message.find_elements(self.by.CSS_SELECTOR, "button.component")]

    def click(self, message, label: str) -> None:
        buttons = message.find_elements(self.by.CSS_SELECTOR, "button.component")
        next(b for b in buttons if b.text.endswith(label)).click()

    def choose(self, message, starting: str) -> None:
        """Choose the menu option of `message` whose label starts with `starting`."""
        from selenium.webdriver.support.ui import Select

        menu = Select(message.find_element(self.by.CSS_SELECTOR, "select.component"))
        menu.select_by_visible_text(next(o.text for o in menu.options if o.text.startswith(starting)))

    def be(self, user: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.driver.find_element(self.by.ID, "user")).select_by_visible_text(user)

    def picture(self, message) -> Image.Image:
        src = message.find_element(self.by.TAG_NAME, "img").get_attribute("src")
        with urllib.request.urlopen(src, timeout=10) as r:
            return Image.open(io.BytesIO(r.read()))
