"""dash_browser: the dashboard and a running build's page in headless Chromium.

Usage: dash_browser.py AGENT_URL BUILD_ID MESSAGE AUTHOR RELEASE_SCRIPT TOKEN_FILE
The build must be running with its assemble held until RELEASE_SCRIPT runs, and
its log must print "step 1" before the hold and "step 2" (with an ANSI escape and
markup) and "step 3" after it.
1. GET /: the build is listed as running, linked, with its commit message and
   author as text; nothing in them runs; the inline style applies under the
   agent's Content-Security-Policy.
2. GET /builds/ID: the page shows the commit and the log so far while the build
   runs; after RELEASE_SCRIPT the same page, without a reload, shows the rest of
   the log and the final state read back as JSON.
3. On that page, with the keyboard: "Build this commit again" asks for the admin
   token in a form; a wrong token is refused and asked again; the right one
   opens the new build's page (the token never in a URL, kept in sessionStorage).
   On it, once the retry runs, "Cancel the build" (no second sign-in) cancels it
   and the page shows it canceled. Prints the retry's id on stdout.
4. The dashboard filtered by state, and the repository's and branch's pages.
Exits non-zero with a message on the first failed check.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    agent, build_id, message, author, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    token = open(sys.argv[6]).read().strip()
    b = cdp.Browser()
    try:
        # 1. the dashboard
        b.goto(agent + "/")
        check(b.eval("document.title") == "s2i-agent builds", "dashboard title")
        link = f'a[href="builds/{build_id}"]'
        check(b.eval(f"!!document.querySelector('{link}')"), f"no link to build {build_id} on the dashboard")
        check(b.eval(f"document.querySelector('{link}').textContent") == f"#{build_id}", "link text")
        row = f"document.querySelector('{link}').closest('tr')"
        check(b.eval(f"{row}.querySelector('.st').textContent").endswith(" running"), "state word in the row")
        check(b.eval(f"{row}.querySelector('.st').className") == "st st-running", "state class in the row")
        check(b.eval(f"{row}.querySelector('.msg span').title") == message, "full message in the title attribute")
        shown = b.eval(f"{row}.querySelector('.msg span').textContent")
        check(shown == message.split("\n")[0] + "\u2026", f"first line shown as text: {shown!r}")
        check(author in b.eval(f"{row}.textContent"), "author in the row")
        check(b.eval("document.querySelectorAll('script, img, svg, iframe').length") == 0,
              "markup from the commit made it into the dashboard's DOM")
        check(b.eval("typeof window.__pwned") == "undefined", "a script from the commit ran")
        check(b.eval("getComputedStyle(document.querySelector('.st')).borderTopStyle") == "solid",
              "the inline stylesheet did not apply (CSP hash?)")
        check(b.eval("!!document.querySelector('meta[http-equiv=refresh]')"), "no reload while a build runs")

        # 2. the build page while the build runs
        b.goto(f"{agent}/builds/{build_id}")
        check(f"Build #{build_id}" in b.eval("document.querySelector('h1').textContent"), "build page heading")
        dd = "[...document.querySelectorAll('dt')].find(e => e.textContent === %s).nextElementSibling.textContent"
        check(b.eval(dd % "'Message'") == message, "full commit message on the build page")
        check(b.eval(dd % "'Author'") == author, "author on the build page")
        check(b.eval("document.querySelectorAll('img, svg, iframe').length") == 0 and
              b.eval("document.querySelectorAll('script').length") == 1, "markup from the commit on the build page")
        b.wait("document.getElementById('log').textContent.includes('step 1: fetching')")
        check("step 2" not in b.eval("document.getElementById('log').textContent"), "log ahead of the build")
        check(b.eval("document.getElementById('state').className") == "st st-running", "running state on the page")
        check("live" in b.eval("document.getElementById('live').textContent"), "live status while the build runs")
        check(b.eval("getComputedStyle(document.getElementById('log')).whiteSpace") == "pre-wrap",
              "build page stylesheet did not apply")

        # ... and after assemble goes on: the same page, no reload
        b.eval("window.__same_page = 1")
        subprocess.run(["bash", release], check=True)
        b.wait("document.getElementById('state').className === 'st st-succeeded'", timeout=180)
        check(b.eval("window.__same_page") == 1, "the page was reloaded")
        b.wait("document.getElementById('live').textContent === 'build succeeded'")
        log = b.eval("document.getElementById('log').textContent")
        check("step 3: committed" in log, f"end of the log missing: {log!r}")
        check("\x1b" not in log and "step 2: assembling bold <b>not html</b>" in log,
              f"escape codes or markup mishandled: {log!r}")
        check(b.eval("document.querySelectorAll('#log *').length") == 0, "log text became markup")
        check(b.eval("document.getElementById('image').textContent").startswith("s2i-agent-test/"),
              "image after the end")
        check(b.eval("document.getElementById('finished').textContent") not in ("", "\u2014"), "finish time")
        check(b.eval("document.title").startswith("succeeded"), "title after the end")
        check(b.eval("typeof window.__pwned") == "undefined", "a script from the commit ran")
        errors = [c for c in b.console if "exception" in c or "Content Security Policy" in c]
        check(not errors, f"console: {errors}")

        # 3. retry with the keyboard, signing in on the way; then cancel the retry
        check(b.eval("document.getElementById('actions').hidden") is False, "the actions stay hidden")
        check(b.eval("document.getElementById('act-cancel').hidden") is True, "cancel offered on a finished build")
        check(b.eval("document.getElementById('act-retry').hidden") is False, "no retry on a finished build")
        b.eval("document.getElementById('act-retry').focus()")
        b.key("Enter")
        b.wait("!document.getElementById('signin').hidden")
        check(b.eval("document.activeElement.id") == "token", "the token field does not have the focus")
        b.type("not-the-admin-token-at-all-0000")
        b.key("Enter")
        b.wait("document.getElementById('act-msg').textContent.startsWith('the admin token was refused')")
        check(b.eval("!document.getElementById('signin').hidden"), "a refused token does not ask again")
        check(b.eval("sessionStorage.getItem('s2i-agent-admin-token')") is None, "a refused token was kept")
        check(b.eval("document.activeElement.id") == "token", "the token field lost the focus")
        b.type(token)
        b.key("Enter")
        b.wait(f"location.pathname.endsWith('/builds/') === false && !location.pathname.endsWith('/builds/{build_id}')"
               " && document.readyState === 'complete' && !!document.querySelector('main[data-build]')", timeout=60)
        retry = int(b.eval("document.querySelector('main[data-build]').getAttribute('data-build')"))
        check(retry > build_id, f"the retry is build {retry}")
        check(token not in b.eval("location.href") and "token" not in b.eval("location.href"), "the token is in the URL")
        check(b.eval("sessionStorage.getItem('s2i-agent-admin-token')") == token, "the token was not kept for the tab")
        check(f"builds/{retry}" in b.eval("location.href"), "not the retry's page")
        # the retry runs its assemble, held again until /tmp/go: cancel it with a click
        b.wait("document.getElementById('log').textContent.includes('step 1: fetching')", timeout=120)
        check(b.eval("document.getElementById('act-cancel').hidden") is False, "no cancel on a running build")
        check(b.eval("document.getElementById('act-retry').hidden") is True, "retry offered on a running build")
        b.eval("document.getElementById('act-cancel').click()")
        check(b.eval("document.getElementById('signin').hidden") is True, "signed in, asked again")
        b.wait("document.getElementById('state').className === 'st st-canceled'", timeout=120)
        b.wait("document.getElementById('act-retry').hidden === false")
        check(b.eval("document.getElementById('reason').textContent") == "canceled by request", "cancel reason")

        # 4. the dashboard's filters and pages, as links
        b.goto(agent + "/?state=canceled")
        check(b.eval(f"!!document.querySelector('a[href=\"builds/{retry}\"]')"), "the canceled retry is not listed")
        check(not b.eval(f"!!document.querySelector('a[href=\"builds/{build_id}\"]')"), "a succeeded build under canceled")
        check(b.eval("document.querySelector('[aria-current=page]').textContent") == "canceled", "current filter")
        b.eval("document.querySelector('h2 a').click()")
        b.wait("document.readyState === 'complete' && location.search === '?repo=web'")
        check(b.eval("document.querySelector('h1').textContent") == "Builds of web", "repository page heading")
        check(b.eval("document.querySelectorAll('tbody tr').length") == 2, "both builds on the repository page")
        widths = b.eval("[...document.querySelectorAll('thead th')].map(e => e.getBoundingClientRect().width).join(',')")
        check(widths and len(widths.split(",")) == 9, f"columns: {widths}")
        b.eval("document.querySelector('td.cut a').click()")
        b.wait("document.readyState === 'complete' && location.search.includes('ref=refs%2Fheads%2Fmain')")
        check("on main" in b.eval("document.querySelector('h1').textContent"), "branch page heading")
        check("/hooks/web" in b.eval("document.body.textContent"), "the webhook URL is gone once builds exist")
        print(retry)
    except Exception:
        print("console:", b.console, file=sys.stderr)
        raise
    finally:
        b.close()
    print("dashboard, live build page, retry and cancel from the page: ok", file=sys.stderr)


if __name__ == "__main__":
    main()
