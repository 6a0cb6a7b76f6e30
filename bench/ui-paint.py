#!/usr/bin/python3
"""ui-paint.py - time to the first meaningful paint of corrald's web UI pages
(bench/ui).

Logs in through the UI's form in headless Chromium, then loads each page
afresh (a new navigation, the session cookie kept) and measures, by the
page's own clock (performance.now(), 0 = the navigation's start), when its
content is in the DOM and the next frame has been painted:
  dashboard  the host and VM sections filled (no "Loading" left in them)
  vms        the VM table drawn with every VM (#vm-table[data-draw-ms])
Prints one line per page: "PAGE MS ROWS"; on stderr each request the page
made, when it started and ended.  Arguments: URL USER; the password
comes from UI_PASS.
"""
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

URL, USER = sys.argv[1:3]
opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--ignore-certificate-errors", "--window-size=1280,1000", "--disable-extensions",
          "--no-first-run", "--disable-background-networking"):
    opts.add_argument(a)
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
drv.set_page_load_timeout(60)
drv.set_script_timeout(60)

# the frame after the content is in the DOM: two animation frames later it has been painted
PAINTED = ("const done = arguments[arguments.length - 1];"
           "requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now())));")


def until(cond, what, timeout=60):
    WebDriverWait(drv, timeout, poll_frequency=0.005).until(lambda d: cond(), message=what)


try:
    drv.get(URL + "/ui/")
    until(lambda: drv.find_elements(By.ID, "login-form"), "the login form")
    drv.find_element(By.ID, "login-user").send_keys(USER)
    drv.find_element(By.ID, "login-password").send_keys(os.environ["UI_PASS"])
    drv.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    until(lambda: drv.find_elements(By.ID, "dash-host"), "the dashboard after login")

    def dashboard_ready():
        els = [drv.find_elements(By.ID, i) for i in ("dash-host", "dash-vms")]
        return all(e and "Loading" not in e[0].text and e[0].find_elements(By.CSS_SELECTOR, "dl, table")
                   for e in els)

    for page, frag, ready, rows in (
            ("dashboard", "#/", dashboard_ready, lambda: len(drv.find_elements(By.CSS_SELECTOR, "#dash-vms tbody tr"))),
            ("vms", "#/vms", lambda: drv.find_elements(By.CSS_SELECTOR, "#vm-table[data-draw-ms]"),
             lambda: len(drv.find_elements(By.CSS_SELECTOR, "#vm-rows tr")))):
        drv.get("about:blank")
        drv.get(URL + "/ui/" + frag)
        until(ready, f"the {page} page")
        ms = drv.execute_async_script(PAINTED)
        print(f"{page} {round(ms)} {rows()}", flush=True)
        # where the time went: each request of the page, by the page's clock (stderr)
        for e in drv.execute_script("return performance.getEntriesByType('navigation')"
                                    ".concat(performance.getEntriesByType('resource'))"
                                    ".map(e => [e.name, Math.round(e.startTime), Math.round(e.responseEnd)])"):
            print(f"  {page}: {e[1]:6d} -> {e[2]:6d} ms  {e[0].replace(URL, '')}", file=sys.stderr)
finally:
    drv.quit()
