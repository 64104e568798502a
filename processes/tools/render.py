"""Renders each diagram to a PNG with bpmn-js (the viewer the web app uses) in headless Chromium.

    npm install                                    # bpmn-js, pinned in package-lock.json
    .venv/bin/python processes/tools/render.py     # docs/processes/<process>.png for every processes/*.bpmn

Needs Debian's `chromium` and the `playwright` Python package (installed with the test extras).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VIEWER = ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-viewer.production.min.js"
OUT = ROOT / "docs" / "processes"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<style>html,body{margin:0;background:#fff;font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif}
#canvas{width:100vw;height:100vh}</style></head><body><div id="canvas"></div></body></html>"""


def render(files: list[Path]) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    if not VIEWER.exists():
        sys.exit("bpmn-js is not installed: run `npm install` at the repository root")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 2400, "height": 1400}, device_scale_factor=1, locale="zh-CN")
        page.set_content(PAGE)
        page.add_script_tag(path=str(VIEWER))
        for path in files:
            xml = path.read_text(encoding="utf-8")
            size = page.evaluate(
                """async (xml) => {
                    const el = document.getElementById('canvas');
                    el.innerHTML = '';
                    const viewer = new BpmnJS({container: el});
                    const {warnings} = await viewer.importXML(xml);
                    const canvas = viewer.get('canvas');
                    const box = canvas.viewbox().inner;
                    // multi-instance collections name process variables, which BPMN types as references
                    // (the designer keeps them: web/frontend/lib/loop-refs.js); not a problem of the drawing
                    const real = warnings.filter(w => !/^bpmn:loopData(Input|Output)Ref$/.test(w.property || ''));
                    return {w: Math.ceil(box.width), h: Math.ceil(box.height), warnings: real.length};
                }""", xml)
            width, height = min(size["w"] + 40, 9000), min(size["h"] + 40, 5000)
            page.set_viewport_size({"width": width, "height": height})
            page.evaluate("""() => {
                const svg = document.querySelector('#canvas svg');
                return true; }""")
            page.evaluate("""async (xml) => {
                const el = document.getElementById('canvas');
                el.innerHTML = '';
                const viewer = new BpmnJS({container: el});
                await viewer.importXML(xml);
                viewer.get('canvas').zoom('fit-viewport', 'auto');
            }""", xml)
            target = OUT / f"{path.stem}.png"
            page.screenshot(path=str(target), full_page=False)
            print(f"{target.relative_to(ROOT)}: {width}x{height}, {size['warnings']} import warnings")
        browser.close()


if __name__ == "__main__":
    given = [Path(a) for a in sys.argv[1:]]
    render(given or sorted((ROOT / "processes").glob("*.bpmn")))
