#!/usr/bin/env python3
"""webui.py - drive corrald's web UI in headless Chromium (t75-webui.sh).

One browser session for the whole run (Chromium is heavy on two cores).
Each step prints "ok - STEP" or "not ok - STEP: why" and the script stops
at the first failure (later steps depend on earlier ones).  Screenshots go
to the artifact directory.

Arguments: URL ARTIFACT_DIR KERNEL INITRD CMDLINE.  The admin and auditor
passwords come from the environment (ADMIN_PASS, AUD_PASS).
"""
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

URL, ART, KERNEL, INITRD, CMDLINE = sys.argv[1:6]
ADMIN_PASS = os.environ["ADMIN_PASS"]
AUD_PASS = os.environ["AUD_PASS"]
XSS = os.environ["XSS_TEXT"]
NET, NET_SUBNET = os.environ["NET_NAME"], os.environ["NET_SUBNET"]
os.makedirs(ART, exist_ok=True)

opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--ignore-certificate-errors", "--window-size=1280,1000", "--disable-extensions",
          "--no-first-run", "--disable-background-networking"):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
drv.set_page_load_timeout(30)
drv.set_script_timeout(120)
T0 = time.time()


def step(name, fn):
    t = time.time()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any failure ends the run, reported
        shot(f"fail-{name.split()[0]}")
        logs = "\n".join(f"  {l['level']} {l['message']}" for l in drv.get_log("browser")[-15:])
        print(f"not ok - {name}: {type(e).__name__}: {e}\n  browser console:\n{logs}", flush=True)
        drv.quit()
        sys.exit(1)
    print(f"ok - {name} ({time.time() - t:.1f} s)", flush=True)


def shot(name):
    drv.save_screenshot(os.path.join(ART, f"{name}.png"))


def wait(cond, timeout=30, what="condition"):
    try:
        return WebDriverWait(drv, timeout, poll_frequency=0.2).until(lambda d: cond())
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None


def by_id(i):
    return drv.find_element(By.ID, i)


def text_of(i):
    for _ in range(5):  # the page redraws parts as events arrive: look again
        try:
            els = drv.find_elements(By.ID, i)
            return els[0].text if els else ""
        except StaleElementReferenceException:
            time.sleep(0.05)
    return ""


def flash():
    return text_of("flash")


def no_alert():
    try:
        a = drv.switch_to.alert
        txt = a.text
        a.dismiss()
        raise AssertionError(f"a JavaScript alert opened: {txt!r}")
    except NoAlertPresentException:
        pass


def login(user, password):
    drv.get(URL + "/ui/")
    wait(lambda: drv.find_elements(By.ID, "login-form"), what="the login form")
    by_id("login-user").send_keys(user)
    by_id("login-password").send_keys(password)
    drv.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    wait(lambda: text_of("who") == user, what=f"logged in as {user}")


def logout():
    by_id("logout").click()
    wait(lambda: drv.find_elements(By.ID, "login-form"), what="the login form after logout")


def term_text():
    return drv.execute_script("""
        const el = document.getElementById('console');
        if (!el || !el.term) return '';
        const b = el.term.buffer.active; let s = '';
        for (let i = 0; i < b.length; i++) s += b.getLine(i).translateToString(true) + '\\n';
        return s;""")


def term_type(s):
    ta = drv.find_element(By.CSS_SELECTOR, "#console .xterm-helper-textarea")
    ta.send_keys(s)


def fetch(method, path, headers=None):
    """fetch() from the page (the session cookie goes along): [status, body]."""
    return drv.execute_async_script("""
        const [m, p, h, done] = arguments;
        fetch(p, {method: m, headers: h, credentials: 'same-origin'})
          .then(async r => done([r.status, await r.text()])).catch(e => done([0, String(e)]));""",
                                    method, path, headers or {})


def csrf():
    s, body = fetch("GET", "/ui/session")
    assert s == 200, f"GET /ui/session: {s} {body}"
    return json.loads(body)["csrf"]


# ---- the steps ----

def t_login():
    drv.get(URL + "/ui/")
    wait(lambda: drv.find_elements(By.ID, "login-form"), what="the login form")
    shot("01-login")
    # a wrong password is refused with a visible message
    by_id("login-user").send_keys("admin")
    by_id("login-password").send_keys("wrong-password")
    drv.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    wait(lambda: "authentication failed" in text_of("login-error"), what="the refusal")
    by_id("login-user").clear()
    by_id("login-password").clear()
    login("admin", ADMIN_PASS)
    cookies = {c["name"]: c for c in drv.get_cookies()}
    c = cookies.get("corral_session")
    assert c and c["httpOnly"] and c["secure"] and c.get("sameSite") == "Strict", f"cookie {c}"
    assert drv.execute_script("return document.cookie") == "", "the session cookie is readable by scripts"
    with open("session.id", "w") as f:  # in the test's directory: t75 looks for it where it must not be
        f.write(c["value"] + "\n" + csrf() + "\n")


def t_dashboard():
    wait(lambda: "running of" in text_of("dash-vm-count"), what="the host section")
    wait(lambda: "xss" in text_of("dash-vms"), what="the VM section")
    wait(lambda: "(this host)" in text_of("dash-hosts"), what="the hosts section")
    wait(lambda: "in no cluster" in text_of("dash-cluster"), what="the cluster section")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#dash-event-list li"), what="recent events")
    # the host's own graphs (GET /v1/host/stats, sampled every second here);
    # corrald has run for less than the hour shown: x starts at the first sample
    def host_cpu():
        return drv.execute_script("""
            const s = document.querySelector('#host-graph-cpu svg.graph');
            return s ? [Number(s.dataset.points), Number(s.dataset.since), s.querySelectorAll('polyline').length] : null;""")
    wait(lambda: (host_cpu() or [0])[0] >= 2, timeout=30, what="the host's CPU graph with points")
    pts, since, lines = host_cpu()
    assert lines >= 1 and since > time.time() - 600, f"host CPU graph: {pts} points, x from {since}, {lines} lines"
    assert drv.find_elements(By.CSS_SELECTOR, "#host-graph-memory svg.graph"), "no host memory graph"
    print(f"  the host's CPU graph: {pts} points, x from {time.time() - since:.0f} s ago", flush=True)
    shot("02-dashboard")


def t_vm_list():
    drv.get(URL + "/ui/#/vms")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#vm-rows tr[data-vm=xss]"), what="the VM list")
    rows = drv.find_elements(By.CSS_SELECTOR, "#vm-rows tr")
    assert len(rows) >= 1
    row = drv.find_element(By.CSS_SELECTOR, "#vm-rows tr[data-vm=xss]")
    assert "stopped" in row.text, row.text
    shot("03-vm-list")


def t_create_start():
    drv.get(URL + "/ui/#/create")
    wait(lambda: drv.find_elements(By.ID, "create-form"), what="the create form")
    by_id("create-name").send_keys("web")
    by_id("create-disk").send_keys("64")
    by_id("create-description").send_keys("made in the browser")
    by_id("create-kernel").send_keys(KERNEL)
    by_id("create-initrd").send_keys(INITRD)
    by_id("create-cmdline").clear()
    by_id("create-cmdline").send_keys(CMDLINE)
    shot("04-create")
    drv.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    wait(lambda: "#/vm/web" in drv.current_url, what="the new VM's page", timeout=20)
    err = text_of("create-error")
    assert not err, err
    wait(lambda: "running" in text_of("vm-state"), what="the VM running", timeout=30)


def t_console_ready():
    wait(lambda: "CORRAL-GUEST-READY" in term_text(), timeout=90, what="the ready marker in the xterm.js console")
    wait(lambda: text_of("console-status") == "connected", what="the console connected")
    # keystrokes reach the guest and its answer comes back
    term_type("echo ui-$((6*7))-typed\n")
    wait(lambda: "ui-42-typed" in term_text(), timeout=30, what="the guest's answer to typed input")
    shot("05-console")


def t_snapshot_revert():
    term_type("echo before > /tmp/mark\n")
    by_id("snap-name").send_keys("s1")
    by_id("snap-memory").click()
    drv.find_element(By.CSS_SELECTOR, "#snap-form button[type=submit]").click()
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#snap-table tr[data-snapshot=s1]"), timeout=60,
         what="snapshot s1 in the list")
    term_type("echo after > /tmp/mark; echo mark-$(cat /tmp/mark)\n")
    wait(lambda: "mark-after" in term_text(), what="the mark changed after the snapshot")
    shot("06-snapshot")
    drv.find_element(By.CSS_SELECTOR, "#snap-table tr[data-snapshot=s1] button.snap-revert").click()
    wait(lambda: "snapshot-revert done" in flash(), timeout=60, what="the revert job's end")
    # the guest is back where it was: its RAM (and /tmp) from the snapshot
    term_type("echo reverted-$(cat /tmp/mark)\n")
    wait(lambda: "reverted-before" in term_text(), timeout=30, what="the guest's state from before the snapshot")
    assert "(current)" in text_of("snapshots")
    shot("07-reverted")
    # a second snapshot appears under the first; deleting it takes two clicks
    by_id("snap-memory").click()  # off: disks only
    by_id("snap-name").send_keys("s2")
    drv.find_element(By.CSS_SELECTOR, "#snap-form button[type=submit]").click()
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#snap-table tr[data-snapshot=s2]"), timeout=60, what="s2")
    # the table is drawn again on the snapshot event and on the job's end: a
    # redraw between the two clicks makes a new, unarmed button; start over then
    for _ in range(10):
        try:
            row = drv.find_element(By.CSS_SELECTOR, "#snap-table tr[data-snapshot=s2]")
            assert "\u2514" in row.text, f"s2 not shown under s1: {row.text!r}"
            btn = row.find_element(By.CSS_SELECTOR, "button.snap-delete")
            btn.click()
            assert btn.text == "Really delete?" and drv.find_elements(By.CSS_SELECTOR, "#snap-table tr[data-snapshot=s2]")
            btn.click()
            break
        except StaleElementReferenceException:
            time.sleep(0.3)
    else:
        raise AssertionError("s2's delete button was redrawn under every try")
    wait(lambda: not drv.find_elements(By.CSS_SELECTOR, "#snap-table tr[data-snapshot=s2]"), timeout=60,
         what="s2 gone from the list")


def t_vnc():
    drv.get(URL + "/ui/#/vm/gfx")
    wait(lambda: "stopped" in text_of("vm-state"), what="the VM page")
    by_id("vm-start").click()
    wait(lambda: "running" in text_of("vm-state"), what="gfx running", timeout=30)
    wait(lambda: text_of("vnc-status").startswith("connected"), timeout=30, what="noVNC connected")
    size = drv.execute_script("""
        const c = document.querySelector('#vnc-screen canvas');
        return c ? [c.width, c.height] : null;""")
    assert size and size[0] >= 320 and size[1] >= 200, f"the VNC canvas: {size}"
    drv.execute_script("document.getElementById('vnc-section').scrollIntoView()")
    time.sleep(1)
    shot("08-vnc")


def t_xss():
    drv.get(URL + "/ui/#/vm/xss")
    wait(lambda: text_of("vm-description") != "", what="the description")
    time.sleep(0.5)
    no_alert()
    d = by_id("vm-description")
    assert d.text == XSS, f"description shown as {d.text!r}"
    assert not d.find_elements(By.TAG_NAME, "img"), "an img element was made from the description"
    assert not drv.find_elements(By.CSS_SELECTOR, "img"), "an img element is in the page"
    assert drv.title == "corral", f"title changed: {drv.title}"
    shot("09-xss-as-text")


def t_csrf():
    s, body = fetch("POST", "/v1/vms/xss/start")
    assert s == 403 and "CSRF" in body, f"POST without X-CSRF-Token: {s} {body}"
    s, body = fetch("POST", "/v1/vms/xss/kill", {"X-CSRF-Token": "0" * 64})
    assert s == 403, f"POST with a wrong token: {s} {body}"
    # the right token passes the check (the VM is stopped: 409, not 403)
    s, body = fetch("POST", "/v1/vms/xss/kill", {"X-CSRF-Token": csrf()})
    assert s == 409, f"POST with the token: {s} {body}"


def t_ws_origin():
    cookie = {c["name"]: c["value"] for c in drv.get_cookies()}["corral_session"]
    host = URL.split("//", 1)[1]
    addr, port = host.rsplit(":", 1)

    def handshake(origin):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection((addr, int(port)), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname=addr) as s:
            s.sendall((f"GET /v1/vms/web/console HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: {origin}\r\n"
                       f"Cookie: corral_session={cookie}\r\n\r\n").encode())
            return s.recv(4096).decode(errors="replace").split("\r\n", 1)[0]

    line = handshake("https://evil.example")
    assert " 403 " in line, f"foreign Origin: {line}"
    # with this host's Origin the same request gets the console
    line = handshake(f"https://{host}")
    assert " 101 " in line, f"own Origin: {line}"


def t_many_vms():
    # 500 more VMs, defined through the unix socket (the test's driver, not the page)
    r = subprocess.run(os.environ["BULK_CMD"], shell=True, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"defining 500 VMs: {r.stdout[-300:]} {r.stderr[-300:]}"
    drv.get(URL + "/ui/#/vms")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#vm-table[data-draw-ms]"), what="the list of 503 VMs")
    n = len(drv.find_elements(By.CSS_SELECTOR, "#vm-rows tr"))
    ms = int(by_id("vm-table").get_attribute("data-draw-ms"))
    assert n == 503, f"{n} rows"
    print(f"  the VM list with {n} VMs: {ms} ms from the request to the drawn table", flush=True)
    assert ms < 3000, f"{ms} ms"
    # a state change reaches its row without redrawing the list
    row = drv.find_element(By.CSS_SELECTOR, "#vm-rows tr[data-vm=gfx]")
    assert "running" in row.text, row.text
    row.find_element(By.CSS_SELECTOR, "button.act-kill").click()
    wait(lambda: "stopped" in row.text, what="gfx's row showing stopped", timeout=20)
    assert row.is_displayed()  # the same element: only its cell was redrawn
    shot("10-many-vms")


def corral_cli(*args):
    """The corral CLI over the unix socket (the test's view from outside the browser)."""
    r = subprocess.run([os.environ["CORRAL"], "--socket", os.environ["SOCK"], *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"corral {' '.join(args)}: {r.stderr.strip()}"
    return r.stdout


def submit(form_id):
    drv.find_element(By.CSS_SELECTOR, f"#{form_id} button[type=submit]").click()


def t_graphs():
    drv.get(URL + "/ui/#/vm/web")
    wait(lambda: "running" in text_of("vm-state"), what="the VM page")

    def points(chart):
        return drv.execute_script("""
            const s = document.querySelector('#graph-' + arguments[0] + ' svg.graph');
            return s ? [Number(s.dataset.points), s.querySelectorAll('polyline').length] : null;""", chart)
    wait(lambda: (points("cpu") or [0])[0] >= 3, timeout=30, what="the CPU graph with data points")
    p = points("cpu")
    assert p[1] >= 1, f"no line drawn: {p}"
    assert (points("memory") or [0])[0] >= 3, f"the memory graph: {points('memory')}"
    print(f"  the CPU graph of the last hour: {p[0]} points", flush=True)
    drv.find_element(By.CSS_SELECTOR, "button.graph-range[data-range='1d']").click()
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#vm-graphs[data-range='1d'] #graph-cpu svg.graph"),
         what="the day's CPU graph")
    drv.find_element(By.CSS_SELECTOR, "button.graph-range[data-range='1h']").click()
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#vm-graphs[data-range='1h']") and (points("cpu") or [0])[0] >= 3,
         what="the hour's CPU graph again")
    drv.execute_script("document.getElementById('graphs-section').scrollIntoView()")
    shot("12-graphs")


def t_disk_hotadd():
    drv.execute_script("document.getElementById('disks-section').scrollIntoView()")
    by_id("disk-volume").send_keys("webdata")
    by_id("disk-size").send_keys("16")
    submit("disk-add-form")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#disk-table tr[data-disk=webdata]") or "failed" in flash(),
         timeout=30, what="the new disk in the list")
    assert "failed" not in flash(), flash()
    vm = json.loads(corral_cli("vm", "show", "web", "--json"))
    assert "webdata" in [d["volume"] for d in vm["disks"]], f"corral vm show: {vm['disks']}"
    # the CD-ROM: a medium inserted into the running guest's drive, then ejected
    iso = os.environ["CD_ISO"]
    by_id("cdrom-path").send_keys(iso)
    submit("cdrom-form")
    wait(lambda: text_of("cdrom-medium") == f"Medium: {iso}" or "failed" in flash(), what="the medium shown")
    assert "failed" not in flash(), flash()
    assert json.loads(corral_cli("vm", "show", "web", "--json"))["cdrom"] == iso
    shot("13-disks")
    by_id("cdrom-eject").click()
    wait(lambda: text_of("cdrom-medium") == "The drive is empty." or "failed" in flash(), what="the drive empty")
    assert "failed" not in flash(), flash()
    assert json.loads(corral_cli("vm", "show", "web", "--json"))["cdrom"] is None


def t_settings():
    # a running VM's definition cannot be replaced: the server's words are shown
    drv.execute_script("document.getElementById('settings-section').scrollIntoView()")
    submit("settings-form")
    wait(lambda: "saving the settings of web failed:" in flash(), what="the refusal for a running VM")
    print(f"  refused: {flash()}", flush=True)
    drv.get(URL + "/ui/#/vm/xss")
    wait(lambda: drv.find_elements(By.ID, "settings-form"), what="the settings of xss")
    by_id("set-cpus").clear()
    by_id("set-cpus").send_keys("2")
    by_id("set-tags").send_keys("web-edited, ui")
    submit("settings-form")
    wait(lambda: "settings of xss saved" in flash() or "failed" in flash(), what="saved")
    assert "failed" not in flash(), flash()
    vm = json.loads(corral_cli("vm", "show", "xss", "--json"))
    assert vm["cpus"] == 2 and vm["tags"] == ["web-edited", "ui"] and vm["description"] == XSS, \
        f"corral vm show xss: {vm['cpus']} {vm['tags']} {vm['description']!r}"


BFILE = "my file&x#1%20.bin"  # a name a URL must escape


def t_vm_backup():
    drv.get(URL + "/ui/#/vm/web")
    wait(lambda: "No backup of this VM" in text_of("vm-backups"), what="the VM's backups (none yet)")
    # a file in the guest's first disk (web-root, blank until now): its md5 as the guest sees it
    wait(lambda: text_of("console-status") == "connected", what="the console connected")
    term_type("modprobe crc32c_generic; modprobe ext4; mke2fs -q /dev/vda && mkdir -p /d && mount -t ext2 /dev/vda /d && "
              f"mkdir /d/sub && head -c 70000 /dev/urandom >'/d/sub/{BFILE}' && "
              f"md5sum '/d/sub/{BFILE}' | sed 's/^/MD5=/' && umount /d && sync\n")
    wait(lambda: re.search(r"MD5=([0-9a-f]{32})", term_text()), timeout=60, what="the file written in the guest")
    guest_md5 = re.search(r"MD5=([0-9a-f]{32})", term_text()).group(1)
    by_id("backup-run").click()
    wait(lambda: "backup of web done" in flash() or "backup of web failed" in flash(), timeout=90, what="the backup job's end")
    assert "done" in flash(), flash()
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#backup-table input.restore-name"), what="the backup listed")
    drv.find_element(By.CSS_SELECTOR, "#backup-table input.restore-name").send_keys("webcopy")
    drv.find_element(By.CSS_SELECTOR, "#backup-table form button[type=submit]").click()
    wait(lambda: " done" in flash() and "restore" in flash() or "failed" in flash(), timeout=90, what="the restore's end")
    assert "failed" not in flash(), flash()
    vm = json.loads(corral_cli("vm", "show", "webcopy", "--json"))
    assert len(vm["disks"]) == 2, f"the restored VM: {vm['disks']}"
    # the file browser inside the backup: a directory, then the file, downloaded by the browser
    dl = os.path.abspath("downloads")
    os.makedirs(dl, exist_ok=True)
    drv.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": dl})
    drv.find_element(By.CSS_SELECTOR, "#backup-table button.backup-files").click()
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#bfiles-table a.bfiles-dir[data-path='/sub']") or text_of("bfiles-error"),
         what="the backup's root directory")
    assert not text_of("bfiles-error"), text_of("bfiles-error")
    drv.find_element(By.CSS_SELECTOR, "#bfiles-table a.bfiles-dir[data-path='/sub']").click()
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#bfiles-table a.bfiles-file"), what="the file in /sub")
    a = drv.find_element(By.CSS_SELECTOR, "#bfiles-table a.bfiles-file")
    href = a.get_attribute("href")
    assert a.get_attribute("download") == BFILE and a.text == BFILE, f"link {a.text!r} download={a.get_attribute('download')!r}"
    assert href.endswith("&path=%2Fsub%2Fmy%20file%26x%231%2520.bin"), f"the link's escaping: {href}"
    a.click()
    target = os.path.join(dl, BFILE)
    wait(lambda: os.path.exists(target) and not [f for f in os.listdir(dl) if f.endswith(".crdownload")],
         timeout=30, what=f"the download in {dl} (has {os.listdir(dl)})")
    with open(target, "rb") as f:
        data = f.read()
    got = hashlib.md5(data).hexdigest()
    assert len(data) == 70000 and got == guest_md5, f"downloaded {len(data)} bytes md5 {got}, the guest's {guest_md5}"
    print(f"  downloaded {BFILE!r} from the backup: 70000 bytes, md5 as in the guest", flush=True)
    drv.execute_script("document.getElementById('backups-section').scrollIntoView()")
    shot("19-vm-backups")


def t_storage():
    drv.get(URL + "/ui/#/storage")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#pool-table tr[data-pool=default] .bar"), what="the pools with a bar")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#volume-table tr[data-volume=webdata]"), what="the volumes")
    row = drv.find_element(By.CSS_SELECTOR, "#volume-table tr[data-volume=webdata]")
    assert "web" in row.text and not row.find_elements(By.CSS_SELECTOR, "button.vol-delete"), row.text
    shot("14-storage")


def t_network():
    drv.get(URL + "/ui/#/networks")
    wait(lambda: drv.find_elements(By.ID, "net-form"), what="the network form")
    # the server's refusal, shown as it words it
    by_id("net-name").send_keys(NET)
    by_id("net-subnet").send_keys(NET_SUBNET.replace(".0/", ".5/"))
    submit("net-form")
    wait(lambda: "not a network address" in flash(), what="the refusal of a bad subnet")
    drv.execute_script("document.getElementById('flash').textContent = ''")
    by_id("net-subnet").clear()
    by_id("net-subnet").send_keys(NET_SUBNET)
    submit("net-form")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, f"#net-table tr[data-network='{NET}']") or "failed" in flash(),
         timeout=30, what="the new network in the list")
    assert "failed" not in flash(), flash()
    out = corral_cli("net", "list")
    assert NET in out and NET_SUBNET in out, f"corral net list: {out}"
    shot("15-networks")
    btn = drv.find_element(By.CSS_SELECTOR, f"#net-table tr[data-network='{NET}'] button.net-delete")
    btn.click()
    btn.click()
    wait(lambda: not drv.find_elements(By.CSS_SELECTOR, f"#net-table tr[data-network='{NET}']"), timeout=30,
         what="the network gone")
    assert NET not in corral_cli("net", "list"), "still in corral net list"


def clear_flash():
    drv.execute_script("document.getElementById('flash').textContent = ''")


def t_backups_page():
    drv.get(URL + "/ui/#/backups")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#repo-table tr[data-repo]"), what="the repository")
    assert "(default)" in text_of("backup-repos") and "encrypted" not in text_of("backup-repos")
    wait(lambda: "backup" in text_of("backup-jobs") and "restore" in text_of("backup-jobs"), what="the backup and restore jobs")
    wait(lambda: "Loading" not in text_of("backup-policies"), what="the policies")
    repos_before = corral_cli("repo", "list", "--json")
    # hostile repository paths: the server's refusal, nothing made
    for bad, words in (("/etc", "not empty"), ("/tmp/../etc/webui-x", "without '..'"), ("srv/rel", "must be absolute")):
        clear_flash()
        by_id("repo-path").clear()
        by_id("repo-path").send_keys(bad)
        submit("repo-form")
        wait(lambda: "failed" in flash() or "done" in flash(), what=f"the answer for {bad}")
        assert f"creating repository {bad} failed:" in flash() and words in flash(), flash()
        print(f"  refused: {flash()}", flush=True)
    assert corral_cli("repo", "list", "--json") == repos_before and not os.path.exists("/etc/webui-x")
    # an encrypted repository: the passphrase typed twice, never shown back
    repo2, pw = os.environ["REPO2"], os.environ["REPO_PASS"]
    clear_flash()
    by_id("repo-path").clear()
    by_id("repo-path").send_keys(repo2)
    by_id("repo-encrypt").click()
    by_id("repo-pass").send_keys(pw)
    by_id("repo-pass2").send_keys(pw)
    submit("repo-form")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, f"#repo-table tr[data-repo='{repo2}']") or "failed" in flash(),
         what="the new repository listed")
    assert "failed" not in flash() and "key file" in flash(), flash()
    assert by_id("repo-pass").get_attribute("value") == "" and pw not in drv.page_source, "the passphrase is still in the page"
    reg = [r for r in json.loads(corral_cli("repo", "list", "--json"))["repos"] if r["path"] == repo2]
    assert reg and reg[0]["encrypted"] and not reg[0]["default"], f"corral repo list: {reg}"
    # a policy: a hostile name refused verbatim, then a real one
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, f"#policy-repo option[value='{repo2}']"), what="the policy form")
    clear_flash()
    by_id("policy-name").send_keys("../x")
    by_id("policy-select").send_keys("web*")
    submit("policy-form")
    wait(lambda: "creating policy ../x failed:" in flash(), what="the refusal of ../x")
    print(f"  refused: {flash()}", flush=True)
    assert json.loads(corral_cli("policy", "list", "--json"))["policies"] == [], "a policy was made"
    clear_flash()
    by_id("policy-name").clear()
    by_id("policy-name").send_keys("webnightly")
    by_id("policy-select").clear()
    by_id("policy-select").send_keys("web*, tag:db:2")
    by_id("policy-exclude").send_keys("*copy")
    drv.find_element(By.CSS_SELECTOR, f"#policy-repo option[value='{repo2}']").click()
    by_id("policy-keep-last").send_keys("2")
    by_id("policy-keep-daily").send_keys("7")
    by_id("policy-schedule").send_keys("daily 02:00")
    submit("policy-form")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#policy-table tr[data-policy=webnightly]") or "failed" in flash(),
         what="the policy listed")
    assert "failed" not in flash(), flash()
    pol = json.loads(corral_cli("policy", "list", "--json"))["policies"]
    assert len(pol) == 1 and pol[0]["name"] == "webnightly" and pol[0]["select"] == ["web*", "tag:db:2"] and \
        pol[0]["exclude"] == ["*copy"] and pol[0]["repo"] == repo2 and pol[0]["schedule"] == "daily 02:00" and \
        {k: v for k, v in pol[0]["keep"].items() if v} == {"last": 2, "daily": 7}, f"corral policy list: {pol}"
    shot("16-backups")


def t_token():
    drv.get(URL + "/ui/#/users")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#user-table tr[data-user=aud]"), what="the users")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#acl-table tr[data-subject=aud]"), what="the ACL entries")
    drv.find_element(By.CSS_SELECTOR, "#token-user option[value=aud]").click()
    by_id("token-id").send_keys("page")
    by_id("token-inherit").click()
    submit("token-form")
    wait(lambda: text_of("token-secret").startswith("Authorization: Bearer aud!page:"), what="the secret shown once")
    header = text_of("token-secret").split(": ", 1)[1]
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#token-table tr[data-token='aud!page']"), what="the token listed")
    # the token works for an API client (curl), with the Auditor's rights it inherited
    base = ["curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Authorization: {header}"]
    r = subprocess.run(base + [URL + "/v1/vms/xss"], capture_output=True, text=True, timeout=30)
    assert r.stdout == "200", f"curl with the token: {r.stdout} {r.stderr}"
    r = subprocess.run(base + ["-X", "POST", URL + "/v1/vms/xss/start"], capture_output=True, text=True, timeout=30)
    assert r.stdout == "403", f"curl start with the Auditor's token: {r.stdout}"
    shot("17-users")
    drv.refresh()
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#token-table tr[data-token='aud!page']"), what="the page again")
    assert not text_of("token-secret"), "the secret is shown again after a reload"


def t_alarms():
    drv.get(URL + "/ui/#/alarms")
    wait(lambda: drv.find_elements(By.ID, "alarm-form"), what="the alarm form")
    by_id("alarm-name").send_keys("webhot")
    by_id("alarm-when").send_keys("memory > 1M for 2s")
    by_id("alarm-on").send_keys("web")
    submit("alarm-form")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#alarm-table tr[data-alarm=webhot]") or "failed" in flash(),
         what="the new rule")
    assert "failed" not in flash(), flash()
    # web's QEMU holds far more than 1 MiB: pending, then firing two seconds on
    wait(lambda: "firing" in text_of("alarm-history"), timeout=30, what="the rule firing in the history")
    assert "pending" in text_of("alarm-history"), text_of("alarm-history")
    wait(lambda: "firing" in drv.find_element(By.CSS_SELECTOR, "#alarm-table tr[data-alarm=webhot]").text,
         what="the rule's state firing")
    shot("18-alarms")


def t_auditor():
    logout()
    login("aud", AUD_PASS)
    # the pages leave out what an Auditor may not do...
    drv.get(URL + "/ui/#/vms")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#vm-rows tr[data-vm=xss]"), what="the list")
    assert not drv.find_elements(By.CSS_SELECTOR, "#vm-rows button"), "action buttons in an Auditor's VM list"
    assert not by_id("nav-create").is_displayed() and not by_id("nav-users").is_displayed(), "admin links shown"
    drv.get(URL + "/ui/#/vm/web")
    wait(lambda: "running" in text_of("vm-state"), what="the VM page")
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#disk-table tr[data-disk=webdata]"), what="the disks")
    for sel in ("#vm-actions button", "#snap-form", "#settings-save", "#disk-add-form", "button.disk-detach",
                "#cdrom-form", "#backup-run", "#migrate-form", "button.snap-revert", "#console-connect"):
        assert not drv.find_elements(By.CSS_SELECTOR, sel), f"an Auditor sees {sel}"
    assert by_id("set-cpus").get_attribute("disabled") is not None, "settings editable"
    shot("11-auditor-vm")
    for page, sel in (("networks", "#networks"), ("storage", "#storage-volumes"), ("alarms", "#alarm-rules"),
                      ("backups", "#backup-policies")):
        drv.get(URL + f"/ui/#/{page}")
        wait(lambda: drv.find_elements(By.ID, sel[1:]) and "Loading" not in text_of(sel[1:]), what=f"the {page} page")
        assert not drv.find_elements(By.CSS_SELECTOR, "main form, main button"), f"an Auditor sees a form or button on {page}"
    drv.get(URL + "/ui/#/users")
    wait(lambda: drv.find_elements(By.ID, "users-denied"), what="the users page refusing")
    # what the page decided from: her own ACL entries with their privileges
    st, body = fetch("GET", "/ui/session")
    rights = json.loads(body)["rights"]
    assert rights == [{"path": "/", "role": "Auditor", "privileges": ["Sys.Audit", "VM.Audit", "Datastore.Audit"]}], rights
    # ...and the server refuses the same requests made directly with the session and its token
    tok = csrf()
    for method, path, body, priv in (("POST", "/v1/vms/xss/start", None, "VM.PowerMgmt"),
                                     ("POST", "/v1/vms/web/disks", '{"volume":"webdata"}', "VM.Config"),
                                     ("POST", "/v1/networks", '{"name":"audnet","type":"nat","subnet":"10.99.0.0/24"}', "Sys.Modify"),
                                     ("PUT", "/v1/vms/xss", '{"name":"xss","cpus":2}', "VM.Config"),
                                     ("POST", "/v1/users/admin/tokens", '{"id":"x"}', "User.Modify")):
        s, resp = drv.execute_async_script("""
            const [m, p, b, t, done] = arguments;
            fetch(p, {method: m, headers: {'X-CSRF-Token': t, 'Content-Type': 'application/json'}, body: b,
                      credentials: 'same-origin'}).then(async r => done([r.status, await r.text()]));""",
                                           method, path, body, tok)
        assert s == 403 and f"lacks {priv}" in resp, f"{method} {path}: {s} {resp}"
    # reading is allowed
    s, body = fetch("GET", "/v1/vms/xss")
    assert s == 200, f"{s} {body}"
    # logged out, the cookie is worth nothing
    logout()
    s, body = fetch("GET", "/v1/vms")
    assert s == 401, f"after logout: {s} {body}"

step("log in over TLS (session cookie HttpOnly, Secure, SameSite=Strict)", t_login)
step("the dashboard shows the host, VMs and events", t_dashboard)
step("the VM list shows the VMs with their state", t_vm_list)
step("create and start a VM from the form", t_create_start)
step("the guest's ready marker in the xterm.js console, typed input answered", t_console_ready)
step("take a snapshot with RAM and revert it through the UI; take and delete another", t_snapshot_revert)
step("the noVNC console of a VM with VNC, started from its page", t_vnc)
step("a description with <img onerror> renders as text", t_xss)
step("a change without the CSRF header is refused (403)", t_csrf)
step("a console WebSocket with a foreign Origin is refused (403)", t_ws_origin)
step("the VM list with 503 VMs, drawn in one pass; a row follows its VM's state", t_many_vms)
step("the VM page draws graphs of the running guest from its stats", t_graphs)
step("a disk hot-added in the page shows in corral vm show; a CD-ROM inserted and ejected", t_disk_hotadd)
step("settings: a running VM's edit refused verbatim; a stopped VM's CPUs and tags changed", t_settings)
step("a backup of the VM run from its page, restored under a new name; one file downloaded out of it", t_vm_backup)
step("the storage page: pools with usage bars, volumes", t_storage)
step("a NAT network created in the page shows in corral net list; a bad one refused verbatim; deleted", t_network)
step("the backups page: repositories and policies created (hostile ones refused verbatim), jobs", t_backups_page)
step("a token made on the users page (secret shown once) works with curl", t_token)
step("an alarm rule added on the alarms page", t_alarms)
step("an Auditor sees no action buttons, and the server refuses the actions (403)", t_auditor)
drv.quit()
print(f"# browser run {time.time() - T0:.1f} s; screenshots in {ART}", flush=True)
