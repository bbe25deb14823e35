"""The viewer in a real browser (headless chromium through Selenium): what a student sees.

Each test opens a page written by `cowfast view` from disk (file://) and works it the
way a user does: arrow keys, the slider, buttons, clicks on processes, the outcome
picker. Page kinds are read from the DOM's data-state and from the computed colours.
"""
import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from cowfast.cli import main
from cowfast.examples import example_files
from cowfast.view import render, view_data

pytestmark = pytest.mark.usefixtures("browser")


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The pages the tests open, written once by the real subcommand."""
    root = tmp_path_factory.mktemp("view")
    out = {}
    for name, extra in (("child_copy", []), ("redirect", []), ("double_fork", []),
                        ("hello_fork", ["--explore"])):
        path = root / f"{name}.html"
        assert main(["view", name, "-o", str(path), *extra]) == 0
        out[name] = path
    return out


def open_page(driver, path, width=1280, height=720, mobile=False):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1,
                            "mobile": mobile})
    driver.get(path.as_uri())
    driver.find_element(By.CSS_SELECTOR, ".proc")          # drawn
    return driver


def key(driver, k):
    driver.find_element(By.TAG_NAME, "body").send_keys(k)


def call_text(driver):
    return driver.find_element(By.ID, "call").text


def step_to(driver, prefix, pid=None):
    """Press → (all at once) as often as it takes to reach the next step, from the one
    shown, whose call starts with prefix (made by pid, if given); return its number."""
    now = int(driver.find_element(By.ID, "step").get_attribute("value"))
    target = driver.execute_script(
        "const d = JSON.parse(document.getElementById('view-data').textContent);"
        "const steps = d.runs[Number(document.getElementById('outcome').value || 0)].steps;"
        "for (let i = arguments[0]; i < steps.length; i++)"
        "  if (steps[i].call.startsWith(arguments[1]) &&"
        "      (arguments[2] === null || steps[i].pid === arguments[2])) return i;"
        "return -1;", now, prefix, pid)
    assert target >= 0, f"no step calls {prefix}"
    if target > now:
        key(driver, Keys.ARROW_RIGHT * (target - now))
    assert driver.find_element(By.ID, "step").get_attribute("value") == str(target)
    assert call_text(driver).startswith(prefix)
    if pid is not None:
        assert driver.find_element(By.ID, "who").text == f"pid {pid}:"
    return target


def select(driver, pid):
    driver.find_element(By.CSS_SELECTOR, f'.proc[data-pid="{pid}"]').click()
    title = driver.find_element(By.ID, "memory-title").text
    assert title.startswith(f"Memory of pid {pid}")


def touched_stack_pages(driver):
    cells = driver.find_elements(By.CSS_SELECTOR, '[data-region="stack"] .pg')
    assert cells, "no stack pages drawn"
    return [(c.get_attribute("data-state"), c.text) for c in cells
            if c.get_attribute("data-state") != "untouched"]


def pids_in_tree(driver):
    return sorted(int(b.get_attribute("data-pid"))
                  for b in driver.find_elements(By.CSS_SELECTOR, ".proc"))


def look(driver, css):
    """The computed colour and pattern of the first element matching css."""
    return driver.execute_script(
        "const s = getComputedStyle(document.querySelector(arguments[0]));"
        "return [s.backgroundColor, s.backgroundImage];", css)


def test_fork_shows_two_processes_whose_pages_read_as_shared(browser, pages, artifacts):
    """child_copy, stepped with → to its fork: parent and child in the tree, and the
    stack page both wrote before fork is shared (by 2) in each of them."""
    open_page(browser, pages["child_copy"])
    assert pids_in_tree(browser) == [1, 2]
    step = step_to(browser, "fork(")
    assert browser.find_element(By.ID, "counter").text.startswith(f"step {step} of ")
    assert browser.find_element(By.ID, "result").text == "3"
    assert pids_in_tree(browser) == [1, 2, 3]
    child = browser.find_element(By.CSS_SELECTOR, '.proc[data-pid="3"]')
    assert child.get_attribute("data-ppid") == "2"
    for pid in (2, 3):
        select(browser, pid)
        assert touched_stack_pages(browser) == [("shared", "2")]
        text = browser.find_elements(By.CSS_SELECTOR, '[data-region^="text"] .pg')
        assert {c.get_attribute("data-state") for c in text} == {"shared"}
    browser.save_screenshot(str(artifacts / "1-fork.png"))


def test_childs_write_turns_the_page_private_in_both(browser, pages, artifacts):
    """One step past the child's store the page is private in the child and the parent,
    and each kind is drawn in its own colour, the same as in the legend."""
    open_page(browser, pages["child_copy"])
    step_to(browser, "store(", pid=3)
    assert "copy pid 3: pages=1" in browser.find_element(By.ID, "events").text
    for pid in (3, 2):
        select(browser, pid)
        assert touched_stack_pages(browser) == [("private", "P")]
    key(browser, Keys.ARROW_LEFT)                       # one step back: not yet written
    assert touched_stack_pages(browser) == [("shared", "2")]
    key(browser, Keys.ARROW_RIGHT)
    browser.save_screenshot(str(artifacts / "2-child-wrote.png"))
    looks = {kind: look(browser, f'#legend [data-kind="{kind}"] .pg')
             for kind in ("untouched", "zero", "private", "shared")}
    assert len(set(map(tuple, looks.values()))) == 4, looks
    for kind in ("private", "shared"):
        assert looks[kind][0] not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"), looks
    assert look(browser, '[data-region="stack"] .pg[data-state="private"]') == looks["private"]
    assert look(browser, '[data-region^="text"] .pg[data-state="shared"]') == looks["shared"]
    legend = browser.find_element(By.ID, "legend").text
    for word in ("untouched", "zero page", "private", "shared"):
        assert word in legend                           # a label beside each colour


def test_slider_and_buttons_move_through_every_step(browser, pages):
    """End on the focused slider shows the last call; prev/next and Home follow."""
    open_page(browser, pages["child_copy"])
    data = json.loads(browser.find_element(By.ID, "view-data").get_attribute("textContent"))
    steps = data["runs"][0]["steps"]
    slider = browser.find_element(By.ID, "step")
    slider.send_keys(Keys.END)
    assert call_text(browser) == steps[-1]["call"]
    assert browser.find_element(By.ID, "next").get_attribute("disabled") is not None
    browser.find_element(By.ID, "prev").click()
    assert call_text(browser) == steps[-2]["call"]
    assert slider.get_attribute("value") == str(len(steps) - 2)
    slider.send_keys(Keys.HOME)
    assert browser.find_element(By.ID, "result").text == "the program starts"
    for i in range(1, 4):
        browser.find_element(By.ID, "next").click()
        assert call_text(browser) == steps[i]["call"]
    assert browser.find_element(By.ID, "console").text == ""


def test_the_address_keeps_the_step_and_the_process(browser, pages):
    """#run=0&step=N&pid=P opens at that step with that process selected, and stepping
    updates the address."""
    open_page(browser, pages["child_copy"])
    step = step_to(browser, "store(", pid=3)
    select(browser, 2)
    url = browser.current_url
    assert url.endswith(f"#run=0&step={step}&pid=2")
    browser.get(pages["double_fork"].as_uri())         # elsewhere, then back by the link
    browser.get(url)
    assert browser.find_element(By.ID, "step").get_attribute("value") == str(step)
    assert browser.find_element(By.ID, "memory-title").text.startswith("Memory of pid 2")
    assert touched_stack_pages(browser) == [("private", "P")]
    key(browser, Keys.ARROW_RIGHT)
    assert browser.current_url.endswith(f"#run=0&step={step + 1}&pid=2")


def test_dup2_links_two_descriptors_to_one_description(browser, pages, artifacts):
    """redirect: after dup2 fd 1 and fd 4 link to one description of /tmp/log; after the
    child's write the parent's view of it shows the moved offset and both holders."""
    open_page(browser, pages["redirect"])
    step_to(browser, "dup2(4, 1")
    rows = {r.get_attribute("data-fd"): r.get_attribute("data-file")
            for r in browser.find_elements(By.CSS_SELECTOR, "#fds tr[data-fd]")}
    assert rows["1"] == rows["4"] != rows["0"]
    card = browser.find_element(By.CSS_SELECTOR, f'.file[data-file-id="{rows["1"]}"]')
    assert "/tmp/log" in card.text and "2 descriptors" in card.text and "offset 0" in card.text
    browser.save_screenshot(str(artifacts / "3-dup2.png"))
    step_to(browser, "write(1, b'child", pid=3)
    select(browser, 2)
    card = browser.find_element(By.CSS_SELECTOR, f'.file[data-file-id="{rows["1"]}"]')
    assert card.get_attribute("data-offset") == "6"
    assert "held by pid:fd 2:1, 3:1" in card.text
    link = browser.find_element(By.CSS_SELECTOR, '#fds tr[data-fd="1"] a')
    assert link.get_attribute("href").endswith(f"#ofd-{rows['1']}")


def test_zombie_until_reaped_and_orphan_adopted_by_init(browser, pages):
    """double_fork: the middle child is a zombie with its status until waitpid reaps it;
    the grandchild is shown re-parented to init."""
    open_page(browser, pages["double_fork"])
    step_to(browser, "_exit(0)", pid=3)
    middle = browser.find_element(By.CSS_SELECTOR, '.proc[data-pid="3"]')
    assert middle.get_attribute("data-state") == "zombie"
    assert "zombie: exited 0, not yet reaped" in middle.text
    grandchild = browser.find_element(By.CSS_SELECTOR, '.proc[data-pid="4"]')
    assert grandchild.get_attribute("data-ppid") == "1"
    assert "re-parented to 1 (parent 3 exited)" in grandchild.text
    select(browser, 3)
    assert "memory is gone" in browser.find_element(By.ID, "memory").text
    step_to(browser, "waitpid(3", pid=2)
    if browser.find_element(By.ID, "result").get_attribute("data-kind") == "blocked":
        key(browser, Keys.ARROW_RIGHT)
        step_to(browser, "waitpid(3", pid=2)
    assert 3 not in pids_in_tree(browser)


def test_explore_picker_shows_each_outcome(browser, pages):
    """hello_fork --explore: two outcomes in the picker, each with its own console."""
    open_page(browser, pages["hello_fork"])
    picker = Select(browser.find_element(By.ID, "outcome"))
    assert len(picker.options) == 2
    consoles = []
    for i in range(2):
        picker.select_by_index(i)
        assert browser.find_element(By.ID, "step").get_attribute("value") == "0"
        key(browser, Keys.END)
        consoles.append(browser.find_element(By.ID, "console").text)
    assert consoles[0] != consoles[1]
    assert sorted(consoles[0].splitlines()) == sorted(consoles[1].splitlines())


def test_no_console_errors_and_no_network_requests(browser, pages):
    """Through every step of every outcome: nothing logged as an error, and the only
    request the page ever makes is for itself."""
    browser.get_log("browser")
    browser.get_log("performance")
    open_page(browser, pages["hello_fork"])
    picker = Select(browser.find_element(By.ID, "outcome"))
    for i in range(2):
        picker.select_by_index(i)
        key(browser, Keys.ARROW_RIGHT * 40)             # every step of the run, and past it
        select(browser, 1)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    urls = [json.loads(e["message"])["message"]["params"]["request"]["url"]
            for e in browser.get_log("performance")
            if '"Network.requestWillBeSent"' in e["message"]]
    assert urls and set(urls) == {pages["hello_fork"].as_uri()}


def test_every_shipped_example_draws_to_its_last_step_without_errors(browser, tmp_path):
    """Each example's page, written by `cowfast view NAME`, reaches its last step by End
    and logs no error on the way."""
    browser.get_log("browser")
    for example in example_files():
        path = tmp_path / f"{example.stem}.html"
        assert main(["view", example.stem, "-o", str(path)]) == 0
        open_page(browser, path)
        last = int(browser.find_element(By.ID, "step").get_attribute("max"))
        assert last > 0
        key(browser, Keys.END)
        assert browser.find_element(By.ID, "counter").text == f"step {last} of {last}"
        assert browser.find_element(By.ID, "result").get_attribute("data-kind") == "ended"
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []


def test_the_runs_ending_shows_at_its_last_step(browser, tmp_path):
    """A deadlocked run: its last step says so, with the table of who waits for what."""
    prog = tmp_path / "stuck.py"
    prog.write_text("async def main(sys, argv, env):\n    r, w = await sys.pipe()\n"
                    "    await sys.read(r, 1)\n")
    page = tmp_path / "stuck.html"
    assert main(["view", str(prog), "-o", str(page)]) == 0
    open_page(browser, page)
    end = browser.find_element(By.ID, "run-end")
    assert not end.is_displayed()
    key(browser, Keys.END)
    assert end.text.startswith("deadlock") and "read(3, 1)" in end.text
    result = browser.find_element(By.ID, "result")
    assert result.get_attribute("data-kind") == "blocked" and "is empty" in result.text


def test_phone_width(browser, pages, artifacts):
    """At 390 px nothing is wider than the screen, panels stack, buttons still step."""
    open_page(browser, pages["child_copy"], 390, 844, mobile=True)
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390
    tree = browser.find_element(By.ID, "tree-panel").rect
    memory = browser.find_element(By.ID, "memory-panel").rect
    assert memory["x"] == tree["x"] and memory["y"] > tree["y"]
    for _ in range(3):
        browser.find_element(By.ID, "next").click()
    assert browser.find_element(By.ID, "step").get_attribute("value") == "3"
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    browser.save_screenshot(str(artifacts / "phone.png"))


def test_hundreds_of_processes_and_a_2_16_page_region(browser, tmp_path):
    """300 processes, each with a 65,536-page region: every process is listed and the
    region is drawn as at most 256 bands, each named by its largest kind."""
    page = 4096
    base = 0x7f0000000000
    rows = [{"pid": 1, "ppid": 0, "command": "init", "argv": ["init"], "state": "running"}]
    for pid in range(2, 302):
        rows.append({"pid": pid, "ppid": 1, "command": "w", "argv": ["w"], "state": "running",
                     "rss": 0, "pss": 0, "uss": 0,
                     "regions": [pid - 2]})
    regions = [{"name": "mmap", "start": base, "end": base + (page << 16), "prot": "rw-",
                "shared": False, "runs": [[3, 1 << 15, 300, [pid + 1]], [2, 256, 1, []],
                                          [0, (1 << 15) - 256, 0, []]]} for pid in range(2, 302)]
    steps = [{"pid": None, "call": "", "kind": "start", "result": "", "console": 0, "now": 0,
              "procs": list(range(len(rows))), "files": []},
             {"pid": 2, "call": "getpid()", "kind": "ok", "result": "2", "console": 0,
              "now": 0, "procs": list(range(len(rows))), "files": []}]
    run = {"label": "synthetic", "schedule": [2], "ending": "", "console": [], "exits": [],
           "rows": rows, "regions": regions, "files": [], "steps": steps}
    path = tmp_path / "many.html"
    path.write_text(render(view_data("many", [run])))
    open_page(browser, path)
    assert browser.execute_script("return document.querySelectorAll('.proc').length") == 301
    select(browser, 150)
    bands = browser.execute_script(
        "return document.querySelectorAll('[data-region=\"mmap\"] .band').length")
    assert 0 < bands <= 256
    assert browser.find_elements(By.CSS_SELECTOR, '[data-region="mmap"] .pg') == []
    states = browser.execute_script(
        "return [...document.querySelectorAll('[data-region=\"mmap\"] .band')]"
        ".map((b) => b.dataset.state)")
    assert states[0] == "shared" and states[-1] == "untouched"
    assert states.count("shared") == len(states) // 2
    key(browser, Keys.ARROW_RIGHT)
    assert call_text(browser) == "getpid()"
