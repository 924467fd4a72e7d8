#!/usr/bin/python3
# spec/observe_browser.py URL SCREENSHOT: drives Debian's chromium (headless,
# through chromium-driver and python3-selenium) against a host's status page
# (spec/observe_browser_spec.lua starts the host and checks the outcome
# through the control socket). Prints one "ok: ..." line per check; exits 1
# with "FAIL: ..." on the first that does not hold. Waits are for what the
# page shows, bounded only to end a stuck run.
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

URL, SHOT = sys.argv[1], sys.argv[2]
HOSTILE = "<script>alert(1)</script>"


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def until(f, what, secs=60):
    end = time.time() + secs
    while time.time() < end:
        try:
            v = f()
            if v:
                return v
        except Exception:  # (a row re-rendered under us: look again)
            pass
        time.sleep(0.1)
    fail("gave up waiting for " + what)


def row(d, name):
    for tr in d.find_elements(By.CSS_SELECTOR, "#tasks tbody tr"):
        if tr.get_attribute("data-task") == name:
            return tr
    return None


def cell(d, name, cls):
    r = row(d, name)
    return r.find_element(By.CSS_SELECTOR, "td." + cls).text if r else None


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,720",
          "--no-first-run", "--no-default-browser-check"):
    opts.add_argument(a)
if os.geteuid() == 0:
    opts.add_argument("--no-sandbox")  # (chromium's sandbox refuses to run as root)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    d.get(URL)
    until(lambda: cell(d, "worker", "state") == "RUNNING", "worker RUNNING in the table")
    until(lambda: d.find_element(By.ID, "live").text == "live", "the event stream to be live")
    print("ok: table shows worker RUNNING", flush=True)
    d.execute_script("window.__no_reload = 42")
    r1 = int(until(lambda: cell(d, "crash", "restarts"), "crash's restarts"))
    until(lambda: int(cell(d, "crash", "restarts")) >= r1 + 2, "crash's restarts to rise")
    if d.execute_script("return window.__no_reload") != 42:
        fail("the page was reloaded")
    print("ok: crash restarts rose from %d to %s without a reload" % (r1, cell(d, "crash", "restarts")), flush=True)
    until(lambda: row(d, "crash").find_elements(By.CSS_SELECTOR, "svg.plot polyline"), "crash's plot")
    print("ok: crash has a restarts plot", flush=True)
    # the hostile name: shown as text, never run
    until(lambda: row(d, HOSTILE), "the hostile task's row")
    shown = cell(d, HOSTILE, "name").strip()
    if shown != HOSTILE:
        fail("hostile name shown as %r" % shown)
    try:
        d.switch_to.alert
        fail("an alert ran")
    except NoAlertPresentException:
        pass
    if d.execute_script("return document.scripts.length") != 1:
        fail("a script element was injected")
    if d.execute_script("return window.__xss === undefined") is not True:
        fail("injected code ran")
    print("ok: the hostile name renders as text", flush=True)
    # a task's last events on click
    row(d, "crash").find_element(By.CSS_SELECTOR, "td.name").click()
    until(lambda: "TaskFailed" in d.find_element(By.ID, "detail-events").text, "crash's last events")
    print("ok: clicking crash shows its last events", flush=True)
    # the stop button
    row(d, "worker").find_element(By.CSS_SELECTOR, "button.stop").click()
    until(lambda: cell(d, "worker", "state") == "STOPPED", "worker STOPPED in the table")
    print("ok: the stop button stopped worker", flush=True)
    time.sleep(0.5)
    d.save_screenshot(SHOT)
    print("ok: screenshot " + SHOT, flush=True)
    # a row far below the viewport has its name but no state, plot or buttons
    # until it comes near (the page's work with a thousand rows); scrolled to,
    # it fills in with its live state
    until(lambda: row(d, "idle-40"), "idle-40's row")
    if row(d, "idle-40").find_elements(By.CSS_SELECTOR, "button") or cell(d, "idle-40", "state") != "":
        fail("idle-40, far below the viewport, was filled in before it was near")
    if "total 47" not in d.find_element(By.ID, "summary").text:
        fail("the summary does not count the rows off screen: " + d.find_element(By.ID, "summary").text)
    d.execute_script("arguments[0].scrollIntoView()", row(d, "idle-40"))
    until(lambda: cell(d, "idle-40", "state") == "RUNNING", "idle-40 RUNNING once scrolled to")
    until(lambda: row(d, "idle-40").find_elements(By.CSS_SELECTOR, "button.stop"), "idle-40's buttons")
    print("ok: a row far below is filled in once scrolled to", flush=True)
finally:
    d.quit()
