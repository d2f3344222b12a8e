#!/usr/bin/python3
"""Compares `deixis capture --json --all-windows` with pyatspi, the reference reader.

For every showing node with a non-empty name in the given apps, pyatspi's name and screen box
must appear among deixis's elements of that app. Prints one JSON object per app:
{"app", "reference", "matched", "missing": [...]} and exits 1 if any node is missing.
Usage: compare.py CAPTURE.json APP...
"""
import json
import sys

import pyatspi


def reference(app_names):
    desktop = pyatspi.Registry.getDesktop(0)
    out = {}
    for app in desktop:
        if app is None or app.name not in app_names:
            continue
        nodes = []
        stack = [app]
        while stack:
            acc = stack.pop()
            try:
                states = acc.getState()
                name = acc.name or ""
                if acc is not app and states.contains(pyatspi.STATE_SHOWING) and name:
                    e = acc.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
                    nodes.append((name, e.x, e.y, e.width, e.height))
                stack.extend(c for c in acc if c is not None)
            except NotImplementedError:
                stack.extend(c for c in acc if c is not None)
        out[app.name] = nodes
    return out


def main():
    capture = json.load(open(sys.argv[1]))
    apps = sys.argv[2:]
    ours = {}
    for e in capture["elements"]:
        x1, y1, x2, y2 = e["bbox"]
        ours.setdefault(e.get("app", ""), set()).add(
            (e.get("text", ""), round(x1), round(y1), round(x2 - x1), round(y2 - y1)))
    failed = False
    for app, nodes in reference(apps).items():
        missing = [n for n in nodes if n not in ours.get(app, set())]
        failed |= bool(missing)
        print(json.dumps({"app": app, "reference": len(nodes),
                          "matched": len(nodes) - len(missing), "missing": missing[:20]}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
