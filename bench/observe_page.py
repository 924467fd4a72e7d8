#!/usr/bin/python3
# bench/observe_page.py URL GOFILE [ROWS]: opens the status page in headless
# chromium, waits until its event stream is live (and it shows ROWS tasks),
# creates GOFILE (the storm starts), and
# keeps the page open until the host is gone (its port refuses connections);
# prints how many rows the page shows, the CPU time chromium's processes
# spent from GOFILE to then (they share the host's cores) and its renderer's
# busy and layout time (DevTools' Performance.getMetrics).
import os
import socket
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url, gofile = sys.argv[1], sys.argv[2]
want = int(sys.argv[3]) if len(sys.argv) > 3 else 0
HZ = os.sysconf("SC_CLK_TCK")


def tree_cpu(root):
    """utime + stime (s) of root's descendants (chromedriver's: chromium's processes)."""
    kids, cpu = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                f = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(f[1]), []).append(int(p))
        cpu[int(p)] = (int(f[11]) + int(f[12])) / HZ
    total, todo = 0.0, list(kids.get(root, []))
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0.0)
        todo += kids.get(p, [])
    return total


def metrics(d):
    """The page's renderer: seconds spent in tasks, script, style, layout (DevTools)."""
    return {m["name"]: m["value"] for m in d.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}


def host_alive(host, port):
    try:
        socket.create_connection((host, port), timeout=5).close()
        return True
    except OSError:
        return False


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
    while len(d.find_elements(By.CSS_SELECTOR, "#tasks tbody tr")) < want and time.time() < end:
        time.sleep(0.1)
    hostport = url.split("/")[2].rsplit(":", 1)
    driver = d.service.process.pid
    d.execute_cdp_cmd("Performance.enable", {})
    m0 = metrics(d)
    c0 = tree_cpu(driver)
    open(gofile, "w").close()
    while host_alive(hostport[0], int(hostport[1])):
        time.sleep(0.2)
    c1 = tree_cpu(driver)
    m1 = metrics(d)
    rows = len(d.find_elements(By.CSS_SELECTOR, "#tasks tbody tr"))
    # (renderer: its main thread's busy time; layout: the part of it laying out the page)
    print("observe_page: rows=%d chromium_cpu=%.2fs renderer=%.3fs layout=%.3fs layouts=%d" % (
        rows, c1 - c0, m1["TaskDuration"] - m0["TaskDuration"], m1["LayoutDuration"] - m0["LayoutDuration"],
        m1["LayoutCount"] - m0["LayoutCount"]))
finally:
    d.quit()
