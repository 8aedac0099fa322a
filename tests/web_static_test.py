#!/usr/bin/python3
"""web_static_test.py: vaultd serving the web pages under "/".

    usage: web_static_test.py BUILD_DIR WORKDIR WEB_DIR

Against a real vaultd (tests/vaultd_harness.py): a web directory made here
with files, a dotfile, a symlink inside and one pointing out, and a file
of an unknown type; then the project's own web/ directory. Checks what is
served, with which Content-Type and headers, and what is refused (404
without a byte of the file), and that /v1 and `vaultd --routes` are as
before. Standard library only.
"""
import http.client
import os
import shutil
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from vaultd_harness import Vault  # noqa: E402


def get(v, path, method="GET", headers=None):
    c = http.client.HTTPConnection(v.host, v.port, timeout=30)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, x in (headers or {}).items():
            c.putheader(k, x)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        return r.status, body, {k.lower(): x for k, x in r.getheaders()}
    finally:
        c.close()


def page_headers_ok(h, html):
    csp = h.get("content-security-policy", "")
    want = ["default-src 'none'", "script-src 'self'", "style-src 'self'",
            "frame-ancestors 'none'", "form-action 'none'", "base-uri 'none'"]
    return (all(w in csp for w in want) and "unsafe-inline" not in csp and
            "unsafe-eval" not in csp and
            h.get("referrer-policy") == "no-referrer" and
            h.get("x-content-type-options") == "nosniff" and
            h.get("x-frame-options") == "DENY" and
            h.get("cache-control") == ("no-store" if html else "no-cache"))


def main():
    build, work, webdir = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    shutil.rmtree(work, ignore_errors=True)
    site = os.path.join(work, "site")
    outside = os.path.join(work, "outside")
    v = Vault(build, os.path.join(work, "vault"),
              extra_args=["--web-dir", site, "--quiet"])
    os.makedirs(os.path.join(site, "sub"))
    os.makedirs(outside)
    files = {
        "index.html": b"<!doctype html><title>INDEX-MARK</title>",
        "app.css": b"body{color:#111}/*CSS-MARK*/" + b"a{color:#222}" * 100,
        "js/app.js": b"export const x = 'JS-MARK';",
        "i18n/fr.json": b'{"k": "JSON-MARK"}',
        "sub/index.html": b"<!doctype html><title>SUB-MARK</title>",
        ".secret.html": b"DOT-MARK",
        "sub/.env.json": b"DOT2-MARK",
        "notes.md": b"MD-MARK",
        "page.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    }
    for name, data in files.items():
        p = os.path.join(site, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    with open(os.path.join(outside, "secret.html"), "wb") as f:
        f.write(b"OUT-MARK")
    os.symlink(os.path.join(outside, "secret.html"), os.path.join(site, "out.html"))
    os.symlink("index.html", os.path.join(site, "same.html"))
    os.symlink(outside, os.path.join(site, "outdir"))
    os.symlink(".secret.html", os.path.join(site, "dot.html"))

    with v:
        s, b, h = get(v, "/")
        check("GET / serves index.html as HTML", s == 200 and b"INDEX-MARK" in b and
              h.get("content-type") == "text/html; charset=utf-8", (s, b[:60], h))
        check("HTML has the page headers and no-store", page_headers_ok(h, True), h)
        s, b, h = get(v, "/", "HEAD")
        check("HEAD / answers 200 with no body", s == 200 and b == b"", (s, b))
        s, b, h = get(v, "/app.css")
        check("a CSS file is text/css, revalidated (no-cache) with an ETag",
              s == 200 and b"CSS-MARK" in b and h.get("content-type", "").startswith(
                  "text/css") and page_headers_ok(h, False) and h.get("etag"), h)
        etag = h.get("etag")
        s, b, h = get(v, "/app.css", headers={"If-None-Match": etag})
        check("If-None-Match with the same ETag: 304, no body", s == 304 and b == b"",
              (s, b))
        s, b, _ = get(v, "/app.css", headers={"If-None-Match": '"other"'})
        check("another ETag: 200 with the file", s == 200 and b"CSS-MARK" in b, s)
        for path, ctype in (("/js/app.js", "text/javascript"),
                            ("/i18n/fr.json", "application/json"),
                            ("/page.svg", "image/svg+xml")):
            s, b, h = get(v, path)
            check("%s is %s" % (path, ctype), s == 200 and
                  h.get("content-type", "").startswith(ctype), (s, h))
        s, b, _ = get(v, "/sub/")
        check("a directory with a slash serves its index.html", s == 200 and
              b"SUB-MARK" in b, (s, b[:60]))
        s, b, _ = get(v, "/same.html")
        check("a symlink that stays inside is served", s == 200 and b"INDEX-MARK" in b, s)

        marks = [m for m in (b"DOT-MARK", b"DOT2-MARK", b"OUT-MARK", b"MD-MARK")]
        for path in ("/.secret.html", "/sub/.env.json", "/out.html",
                     "/outdir/secret.html", "/dot.html", "/notes.md",
                     "/../outside/secret.html", "/%2e%2e/outside/secret.html",
                     "/sub/../.secret.html", "/sub/..%2f.secret.html",
                     "/./index.html", "//index.html", "/.secret.html%00.css",
                     "/sub", "/nothing.html", "/index.html/", "/a\\b.html"):
            s, b, h = get(v, path)
            check("refused with 404: %s" % path, s == 404 and
                  not any(m in b for m in marks) and b"INDEX-MARK" not in b and
                  page_headers_ok(h, True), (s, b[:80]))
        s, b, h = get(v, "/index.html%00.css")
        check("a NUL in the path cuts it: the file before it, with its own type",
              s == 200 and b"INDEX-MARK" in b and
              h.get("content-type", "").startswith("text/html"), (s, h))
        s, b, h = get(v, "/index.html", "POST")
        check("POST to a page is 405", s == 405, s)
        s, b, h = get(v, "/v1/nothing")
        check("/v1 is still the API: JSON 404", s == 404 and
              h.get("content-type") == "application/json", (s, h))
        s, b, h = get(v, "/v1")
        check("/v1 alone is the API's 404 too", s == 404 and
              h.get("content-type") == "application/json", (s, h))
        s, b, h = get(v, "/v1/health")
        check("/v1/health still answers", s == 200, s)
        check("API answers keep their own CSP (default-src 'none')",
              h.get("content-security-policy", "").startswith("default-src 'none';") and
              "script-src" not in h.get("content-security-policy", ""), h)

    out = subprocess.run([os.path.join(build, "vaultd"), "--routes"],
                         capture_output=True, text=True).stdout.split("\n")
    check("vaultd --routes lists /v1 routes only",
          out and all(not l or l.split(" ", 1)[1].startswith("/v1/") for l in out), out)

    # Without a web directory: pages are 404, the API answers.
    v2 = Vault(build, os.path.join(work, "vault2"),
               extra_args=["--web-dir", os.path.join(work, "missing"), "--quiet"])
    with v2:
        s, b, h = get(v2, "/")
        check("no web directory: / is 404", s == 404, s)
        s, b, h = get(v2, "/v1/health")
        check("no web directory: the API answers", s == 200, s)
    check("no web directory: vaultd says so on stderr",
          "no web pages" in v2.read_log(), v2.read_log()[-300:])

    # The project's own pages.
    v3 = Vault(build, os.path.join(work, "vault3"),
               extra_args=["--web-dir", webdir, "--quiet"])
    with v3:
        s, b, h = get(v3, "/")
        check("the project's index.html is served with the page headers",
              s == 200 and b"<html" in b and page_headers_ok(h, True), (s, h))
        check("it loads no script inline and nothing from elsewhere",
              b"<script>" not in b and b"https://" not in b and
              b"http://" not in b.replace(b"http://www.w3.org/2000/svg", b"") and
              b"onclick" not in b and b" style=" not in b)
        n = 0
        for root, dirs, names in os.walk(webdir):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in names:
                rel = os.path.relpath(os.path.join(root, name), webdir)
                if name.startswith("."):
                    continue
                s, b, h = get(v3, "/" + rel)
                with open(os.path.join(root, name), "rb") as f:
                    same = f.read() == b
                n += 1
                check("web/%s is served whole" % rel, s == 200 and same, s)
                if rel.endswith((".js", ".css", ".html", ".json")):
                    # (the SVG namespace is a name, not a resource)
                    text = b.replace(b"http://www.w3.org/2000/svg", b"")
                    check("web/%s names no other site" % rel,
                          b"http://" not in text and b"https://" not in text and
                          b"//cdn" not in text)
        check("web/ holds pages (%d files)" % n, n >= 5)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
