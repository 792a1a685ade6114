"""The worklist page: the pre-screened images as ``GET /worklist/`` orders them (flagged first, then newest), each
opening its study in OHIF, with buttons recording the radiologist's verdict on the AI result."""

from __future__ import annotations

from ptxseg.serving.viewer.verdicts import VERDICTS

__all__ = ["REVIEW_PATH", "worklist_html"]

REVIEW_PATH = "/review"

# Cells are filled with textContent, never innerHTML: the values come from the PACS.
_SCRIPT = """
const verdicts = %(verdicts)s;
function cell(row, text) { const td = row.insertCell(); td.textContent = text; return td; }
function percent(p) { return p === null || p === undefined ? "-" : (100 * p).toFixed(1) + " %%"; }
function qualification(q) { return q === null || q === undefined ? "-" : (q ? "qualified" : "not qualified"); }
async function post(image, verdict) {
  const answer = await fetch("%(base)s/verdict", {method: "POST", headers: {"Content-Type": "application/json"},
                                                  body: JSON.stringify({image: image, verdict: verdict})});
  if (!answer.ok) { alert((await answer.json()).detail); }
  await load();
}
async function load() {
  const [worklist, given] = await Promise.all([
    fetch("/worklist/").then(r => r.json()), fetch("%(base)s/verdicts").then(r => r.json())]);
  document.getElementById("triage").textContent = worklist.triage || "";
  const body = document.getElementById("items");
  body.replaceChildren();
  for (const item of worklist.items) {
    const row = body.insertRow();
    row.dataset.image = item.image;
    row.className = item.flag ? "flagged" : "";
    cell(row, item.flag ? "flagged" : "");
    cell(row, percent(item.probability));
    cell(row, item.side || "-");
    cell(row, qualification(item.qualified));
    cell(row, item.acquired || "-");
    cell(row, item.status);
    const verdict = given[item.image];
    cell(row, verdict ? verdict.verdict : (item.reviewed ? "label submitted" : "not reviewed")).className = "review";
    const link = document.createElement("a");
    link.href = "%(base)s/study/" + encodeURIComponent(item.study);
    link.textContent = "open in OHIF";
    link.target = "_blank";
    cell(row, "").append(link);
    const buttons = cell(row, "");
    for (const name of verdicts) {
      const button = document.createElement("button");
      button.textContent = name;
      button.dataset.verdict = name;
      button.onclick = () => post(item.image, name);
      buttons.append(button);
    }
  }
  document.body.dataset.loaded = "true";
}
load();
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ptxseg worklist</title>
<style>
body { font-family: sans-serif; margin: 1em; }
table { border-collapse: collapse; } td, th { padding: 0.3em 0.8em; border-bottom: 1px solid #ccc; }
tr.flagged { background: #fde2e2; font-weight: bold; }
</style></head>
<body>
<h1>Pneumothorax pre-screening worklist</h1>
<p id="triage"></p>
<table><thead><tr><th>flag</th><th>probability</th><th>side</th><th>model</th><th>acquired</th><th>state</th>
<th>review</th><th>study</th><th>verdict on the AI result</th></tr></thead><tbody id="items"></tbody></table>
<script>%(script)s</script>
</body></html>
"""


def worklist_html() -> str:
    """The page's HTML; its script reads ``/worklist/`` and ``/review/verdicts`` from the same server.

    Example:
        >>> "/worklist/" in worklist_html() and "corrected" in worklist_html()
        True
    """
    verdicts = "[" + ", ".join(f'"{name}"' for name in VERDICTS) + "]"
    return _PAGE % {"script": _SCRIPT % {"verdicts": verdicts, "base": REVIEW_PATH}}
