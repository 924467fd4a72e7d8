#!/usr/bin/python3
# bench/observe_page.py URL GOFILE: opens the status page in headless chromium,
# waits until its event stream is live, creates GOFILE (the storm starts), and
# keeps the page open until the host is gone; prints how many rows it shows.
import os
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url, gofile = sys.argv[1], sys.argv[2]
opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,720"):
    opts.add_argument(a)
if os.geteuid() == 0:
    opts.add_argument("--no-sandbox")
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    d.get(url)
    end = time.time() + 60
    while d.find_element(By.ID, "live").text != "live" and time.time() < end:
        time.sleep(0.1)
    open(gofile, "w").close()
    base = url.split("#")[0]
    while True:
        try:
            urllib.request.urlopen(base + "metrics", timeout=5).read()
        except Exception:
            break
        time.sleep(0.5)
        rows = len(d.find_elements(By.CSS_SELECTOR, "#tasks tbody tr"))
    print("observe_page: rows=%d" % rows)
finally:
    d.quit()
