"""One self-contained HTML report a sysadmin can mail to their ISSO.

No external assets (inline CSS, no script, a Content-Security-Policy that forbids loading
anything), every value from the report escaped, and readable without a stylesheet. Results
are grouped by directive, failures first; evidence, remediation and references sit in
``<details>`` so the page stays short. Waivers and tailoring are listed in their own sections.
"""
from __future__ import annotations

from html import escape

from agent.contract import DirectiveRef, Report, Result
from agent.output.common import directive_status, natural, overall_status, safe, safe_lines

ORDER = {"fail": 0, "error": 1, "manual": 2, "waived": 3, "pass": 4, "not_applicable": 5}
LABEL = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "not_applicable": "N/A", "waived": "WAIVED",
         "manual": "MANUAL"}
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1b1b1b}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
.meta{color:#555}table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{text-align:left;vertical-align:top;padding:.35em .5em;border-bottom:1px solid #e4e4e4}
th{background:#f3f3f3}.s{font-weight:bold;white-space:nowrap;border-radius:3px;padding:.1em .4em;font-size:.85em}
.fail{background:#fde2e1;color:#8a1c14}.error{background:#f3e1f7;color:#6b1d80}.manual{background:#fff4d6;color:#6b4e00}
.waived{background:#dff3f7;color:#0b5563}.pass{background:#e1f5e4;color:#17612a}.not_applicable{background:#eee;color:#555}
.overdue{color:#8a1c14;font-weight:bold}.nw{white-space:nowrap}.warn{background:#fff4d6;padding:.5em;border-left:4px solid #e0a800}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #ddd;border-radius:4px;padding:.4em .8em;min-width:6em}
.card b{display:block;font-size:1.4em}pre{white-space:pre-wrap;margin:.3em 0;background:#f7f7f7;padding:.4em}
details summary{cursor:pointer;color:#1a4f8b}code{font-size:.95em}
.hs{font-size:.8em;border-radius:3px;padding:.1em .4em}.non_compliant{background:#fde2e1;color:#8a1c14}
.incomplete{background:#f3e1f7;color:#6b1d80}.needs_review{background:#fff4d6;color:#6b4e00}
.compliant{background:#e1f5e4;color:#17612a}.v-violation{color:#8a1c14;font-weight:bold}.v-ok{color:#17612a}.v-info{color:#555}
@media print{details{display:block}details>summary{display:none}}
"""


def _e(value: object) -> str:
    """HTML-escaped, with control characters from the host shown as ``\\xNN`` (common.safe)."""
    return escape(safe(value), quote=True)


def _due(r: Result) -> str:
    if not r["due"]:
        return ""
    if r["overdue"]:
        return f'<span class="overdue">{_e(r["due"])} OVERDUE</span>'
    if r["status"] in ("fail", "waived", "manual", "error") and (days := r.get("days_left")) is not None and days >= 0:
        return f"{_e(r['due'])} ({_e(r['days_left'])} days left)"
    return _e(r["due"])


def _link(url: str, text: str) -> str:
    if url.startswith(("https://", "http://")):
        return f'<a href="{_e(url)}" rel="noreferrer noopener">{_e(text)}</a>'
    return _e(text)


def _details(r: Result) -> str:
    parts = []
    if r.get("message"):
        parts.append(f"<p>{_e(r['message'])}</p>")
    if r["evidence"]:
        rows = "".join(f"<tr><td class=\"v-{_e(e.get('verdict') or 'info')}\">{_e(e.get('verdict') or 'info')}</td>"
                       f"<td>{_e(e['expected'])}</td><td>{_e(e['actual'])}</td><td><code>{_e(e['where'])}</code></td></tr>"
                       for e in r["evidence"])
        parts.append(f"<table><tr><th>verdict</th><th>expected</th><th>found</th><th>where</th></tr>{rows}</table>")
    if r.get("waiver"):
        w = r["waiver"]
        parts.append(f"<p><b>Waiver ({_e(w['state'])})</b>: {_e(w['justification'])} &mdash; "
                     f"approver {_e(w.get('approver') or 'not named')}, expires {_e(w['expires'])}"
                     f"{', ticket ' + _e(w['ticket']) if w.get('ticket') else ''}</p>")
    if r.get("remediation") and r["status"] not in ("pass", "not_applicable"):
        parts.append(f"<p><b>Remediation</b></p><pre>{escape(safe_lines(r['remediation'].strip()))}</pre>")
    refs = "; ".join(f"{_e(k)}: {_e(', '.join(v))}" for k, v in r["references"].items() if v)
    if refs:
        parts.append(f"<p><b>References</b>: {refs}</p>")
    opened = " open" if r["status"] in ("fail", "error", "waived") else ""
    return f"<details{opened}><summary>details</summary>{''.join(parts)}</details>" if parts else ""


def _summary(report: Report) -> str:
    s = report["summary"]
    c = s["counts"]
    score = "n/a" if s["score"] is None else f"{s['score'] * 100:.0f}%"
    cards = [("score", score), ("pass", c["pass"]), ("fail", c["fail"]), ("overdue", s["overdue"])]
    cards += [(k.replace("_", " "), c[k]) for k in ("waived", "error", "manual", "not_applicable") if c[k]]
    status = overall_status(report)
    body = "".join(f'<div class="card">{_e(name)}<b>{_e(value)}</b></div>' for name, value in cards)
    badge = f'<span class="hs {_e(status.value)}" data-status="{_e(status.value)}">{_e(status.label)}</span>'
    return (f"<h2>Summary: {badge}</h2><p>{_e(status.meaning)}.</p><div class=\"cards\">{body}</div>"
            "<p class=\"meta\">Score is pass / (pass + fail); waived, error, manual and not applicable "
            "results are counted on their own, never as pass.</p>")


def _waivers(report: Report) -> str:
    waivers = report["scan"].get("waivers")
    if not waivers:
        return ""
    rows = "".join(
        f"<tr><td>{_e(w['requirement'])}{' / ' + _e(w['finding']) if w.get('finding') else ''}</td>"
        f"<td><span class=\"s {'waived' if w['state'] == 'active' else 'fail'}\">{_e(w['state'])}</span></td>"
        f"<td class=\"nw\">{_e(w.get('start') or '')}</td><td class=\"nw\">{_e(w['expires'])}</td>"
        f"<td>{_e(w.get('approver', ''))}</td>"
        f"<td>{_e(w.get('ticket', ''))}</td><td>{_e(w['justification'])}</td></tr>" for w in waivers)
    return ("<h2>Accepted risks (waivers)</h2><table><tr><th>requirement</th><th>state</th><th>start</th>"
            f"<th>expires</th><th>approver</th><th>ticket</th><th>justification</th></tr>{rows}</table>")


def _tailoring(report: Report) -> str:
    t = report["scan"].get("tailoring")
    if not t:
        return ""
    parts = [f"<h2>Tailoring: {_e(t['title'])}</h2>"]
    if t.get("description"):
        parts.append(f"<p>{_e(t['description'])}</p>")
    if t["select"]:
        parts.append(f"<p>Selected: {_e(', '.join(t['select']))}</p>")
    if t["deselect"]:
        parts.append("<p>Deselected:</p><ul>" + "".join(f"<li>{_e(d['id'])}: {_e(d['reason'])}</li>"
                                                        for d in t["deselect"]) + "</ul>")
    if t["parameters"]:
        parts.append("<table><tr><th>parameter</th><th>value</th><th>default</th><th>reason</th></tr>" + "".join(
            f"<tr><td>{_e(p['id'])}</td><td>{_e(p['value'])}</td><td>{_e(p.get('default'))}</td>"
            f"<td>{_e(p.get('reason', ''))}</td></tr>" for p in t["parameters"]) + "</table>")
    parts.append(f"<p class=\"meta\">{_e(t.get('source', ''))} {_e(t['digest'])}</p>")
    return "".join(parts)


def _directive(report: Report, d: DirectiveRef, results: list[Result]) -> str:
    rows = []
    for r in sorted(results, key=lambda r: (ORDER[r["status"]], natural(r["key"]))):
        rows.append(
            f'<tr id="{_e(r["key"])}"><td><span class="s {_e(r["status"])}">{_e(LABEL[r["status"]])}</span></td>'
            f"<td><code>{_e(r['key'])}</code></td><td>{_e(r['title'])}{_details(r)}</td>"
            f"<td>{_e(r['severity'])}</td><td class=\"nw\">{_due(r)}</td></tr>")
    head = _link(d.get("url", ""), f"{d['id']}: {d['title']}")
    status = directive_status(report, d["id"])
    badge = f'<span class="hs {_e(status.value)}" data-status="{_e(status.value)}">{_e(status.label)}</span>'
    return (f"<h2>{head} {badge}</h2><p class=\"meta\">issued {_e(d['issued'])} &middot; {_e(d['digest'])}</p>"
            "<table><tr><th>status</th><th>requirement</th><th>title</th><th>severity</th><th>due</th></tr>"
            + "".join(rows) + "</table>")


def render(report: Report, color: bool = False, *, baseline: Report | None = None) -> str:
    host = report["host"]
    os_name = host.get("os", {}).get("pretty_name", "")
    by_directive: dict[str, list[Result]] = {}
    for r in report["results"]:
        by_directive.setdefault(r["directive"], []).append(r)
    scan = report["scan"]
    warnings = "".join(f'<p class="warn">{_e(w)}</p>' for w in report.get("warnings", []))
    offline = "" if scan["live"] else " &middot; offline image: runtime state not judged"
    body = "".join(_directive(report, d, by_directive.get(d["id"], [])) for d in report["directives"])
    title = f"fedharden report: {host['hostname'] or host['target']}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{_e(title)}</h1>
<p class="meta">{_e(host['target'])}{' &middot; ' + _e(os_name) if os_name else ''} &middot; host id <code>{_e(host['id'])}</code>
{' &middot; agency ' + _e(host['agency']) if host.get('agency') else ''}<br>
scanned {_e(scan['started_at'])} to {_e(scan['finished_at'])}{offline} &middot; fedharden {_e(report['agent']['version'])}
&middot; report <code>{_e(report['report_id'])}</code></p>
{warnings}{_summary(report)}{_tailoring(report)}{_waivers(report)}{body}
</body>
</html>
"""
