"""dash_browser: the dashboard and a running build's page in headless Chromium.

Usage: dash_browser.py AGENT_URL BUILD_ID MESSAGE AUTHOR RELEASE_SCRIPT TOKEN_FILE FEATURE_REF
The build must be running with its assemble held until RELEASE_SCRIPT runs, and
its log must print "step 1" before the hold and "step 2" (with an ANSI escape and
markup) and "step 3" after it.
1. GET /: the build is listed as running, linked, with its commit message and
   author as text; nothing in them runs; the inline style applies under the
   agent's Content-Security-Policy.
2. GET /builds/ID: the page shows the commit and the log so far while the build
   runs; after RELEASE_SCRIPT the same page, without a reload, shows the rest of
   the log and the final state read back as JSON.
   With JavaScript switched off, the finished build's page holds the whole log
   (colour codes dropped, markup as text) and the final state.
3. On that page, with the keyboard (Tab to the button, Enter): "Build this commit again" asks for the admin
   token in a form; a wrong token is refused and asked again; the right one
   opens the new build's page (the token never in a URL, kept in sessionStorage).
   That page says "retry of #ID". On it, once the retry runs, "Cancel the build"
   (Tab, Space; no second sign-in) cancels it and the page shows it canceled.
4. The dashboard filtered by state, and the repository's and branch's pages.
5. On the repository's page, signed out again, with the keyboard: "Build a ref" offers
   the newest build's branch; a ref too long is refused (400) and the answer shown;
   FEATURE_REF typed instead asks for the token, and the right one opens the new
   build's page (the token never in a URL). Without JavaScript the form is hidden.
   Prints "RETRY_ID BUILT_ID" on stdout.
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


def tab_to(b, element_id, limit=40):
    """Presses Tab until the element has the focus, as a keyboard user would."""
    for _ in range(limit):
        if b.eval("document.activeElement && document.activeElement.id") == element_id:
            return
        b.key("Tab")
    raise AssertionError(f"{limit} presses of Tab never reached #{element_id}")


def main():
    agent, build_id, message, author, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    token = open(sys.argv[6]).read().strip()
    feature = sys.argv[7]
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

        # ... and without JavaScript: the log is in the page as the server sent it
        b.call("Emulation.setScriptExecutionDisabled", value=True)
        b.goto(f"{agent}/builds/{build_id}")
        check(b.eval("window.__same_page") is None, "not a fresh load")
        nojs = b.eval("document.getElementById('log').textContent")
        check("step 1: fetching" in nojs and "step 3: committed" in nojs and
              "step 2: assembling bold <b>not html</b>" in nojs and "\x1b" not in nojs,
              f"the log without JavaScript: {nojs!r}")
        check(b.eval("document.querySelectorAll('#log *').length") == 0, "log text became markup without JavaScript")
        check(b.eval("document.getElementById('state').className") == "st st-succeeded", "final state without JavaScript")
        check(b.eval("document.getElementById('live').textContent") == "", "the script ran")
        check(b.eval("document.getElementById('actions').hidden") is True, "actions shown without JavaScript")
        b.call("Emulation.setScriptExecutionDisabled", value=False)
        b.goto(f"{agent}/builds/{build_id}")
        b.wait("document.getElementById('live').textContent === 'build succeeded'")
        check(b.eval("document.getElementById('log').textContent") == log, "the script's log differs from before")

        # 3. retry with the keyboard, signing in on the way; then cancel the retry
        check(b.eval("document.getElementById('actions').hidden") is False, "the actions stay hidden")
        check(b.eval("document.getElementById('act-cancel').hidden") is True, "cancel offered on a finished build")
        check(b.eval("document.getElementById('act-retry').hidden") is False, "no retry on a finished build")
        check(not b.eval("!!document.getElementById('retry-of')"), "a webhook build named as a retry")
        tab_to(b, "act-retry")
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
        check(b.eval("document.getElementById('retry-of').textContent") == f"retry of #{build_id}",
              "the retry's page does not name the build it retries")
        check(b.eval("document.querySelector('#retry-of a').getAttribute('href')") == str(build_id),
              "the retried build is not linked")
        # the retry runs its assemble, held again until /tmp/go: cancel it with a click
        b.wait("document.getElementById('log').textContent.includes('step 1: fetching')", timeout=120)
        check(b.eval("document.getElementById('act-cancel').hidden") is False, "no cancel on a running build")
        check(b.eval("document.getElementById('act-retry').hidden") is True, "retry offered on a running build")
        tab_to(b, "act-cancel")
        b.key(" ")
        check(b.eval("document.getElementById('signin').hidden") is True, "signed in, asked again")
        b.wait("document.getElementById('state').className === 'st st-canceled'", timeout=120)
        b.wait("document.getElementById('act-retry').hidden === false")
        check(b.eval("document.getElementById('reason').textContent") == "canceled by request", "cancel reason")

        # 4. the dashboard's filters and pages, as links
        b.goto(agent + "/?state=canceled")
        check(b.eval(f"!!document.querySelector('a[href=\"builds/{retry}\"]')"), "the canceled retry is not listed")
        listed = "[...document.querySelectorAll('tbody td.num > a')].map(a => a.getAttribute('href'))"
        check(f"builds/{build_id}" not in b.eval(listed), "a succeeded build under canceled")
        cell = f"document.querySelector('a[href=\"builds/{retry}\"]').closest('td')"
        check(b.eval(f"{cell}.textContent") == f"#{retry}retry of #{build_id}", "the list does not say whose retry it is")
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

        # 5. build a ref from the repository's page, signing in again on the way
        b.goto(agent + "/?repo=web")
        b.eval("sessionStorage.clear()")
        check(b.eval("document.getElementById('actions').hidden") is False, "the build form stays hidden")
        check(b.eval("document.getElementById('ref').value") == "main", "the newest build's branch is not offered")
        tab_to(b, "ref")
        b.type("x" * 1100)		# longer than a ref may be (REF_MAX)
        b.key("Enter")
        b.wait("!document.getElementById('signin').hidden")
        check(b.eval("document.activeElement.id") == "token", "the token field does not have the focus")
        b.type(token)
        b.key("Enter")
        b.wait("document.getElementById('act-msg').textContent.startsWith('expected')")
        check("ref" in b.eval("document.getElementById('act-msg').textContent"), "the 400's reason is not shown")
        check(b.eval("location.search") == "?repo=web", "left the page on a refused ref")
        check(b.eval("document.getElementById('signin').hidden") is True, "a bad ref asked for the token")
        tab_to(b, "ref")
        check(b.eval("document.getSelection().toString().length") == 1100, "the field's text is not selected")
        b.type(feature)
        check(b.eval("document.getElementById('ref').value") == feature, "the typed ref")
        b.eval("sessionStorage.setItem('s2i-agent-admin-token', 'not-the-admin-token-at-all-0000')")
        b.key("Enter")
        b.wait("document.getElementById('act-msg').textContent.startsWith('the admin token was refused')")
        check(b.eval("document.activeElement.id") == "token", "a refused token does not ask again")
        b.type(token)
        b.key("Enter")
        b.wait("document.readyState === 'complete' && !!document.querySelector('main[data-build]')", timeout=60)
        built = int(b.eval("document.querySelector('main[data-build]').getAttribute('data-build')"))
        check(built > retry, f"the new build is build {built}")
        check(b.eval("location.pathname").endswith(f"/builds/{built}"), "not the new build's page")
        check(token not in b.eval("location.href") and "token" not in b.eval("location.href"), "the token is in the URL")
        check(b.eval("[...document.querySelectorAll('dt')].find(e => e.textContent === 'Ref')"
                     ".nextElementSibling.textContent") == "refs/heads/" + feature, "the new build's ref")
        errors = [c for c in b.console if "exception" in c or "Content Security Policy" in c]
        check(not errors, f"console: {errors}")
        b.call("Emulation.setScriptExecutionDisabled", value=True)
        b.goto(agent + "/?repo=web")
        check(b.eval("document.getElementById('actions').hidden") is True, "the build form shown without JavaScript")
        b.call("Emulation.setScriptExecutionDisabled", value=False)
        print(retry, built)
    except Exception:
        print("console:", b.console, file=sys.stderr)
        raise
    finally:
        b.close()
    print("dashboard, live build page, retry and cancel, build a ref from the pages: ok", file=sys.stderr)


if __name__ == "__main__":
    main()
