#!/usr/bin/env python3
"""Prints xdotool commands that write the ink of an InkML file with the mouse, scaled into the
screen box X0 Y0 X1 Y1 (aspect kept): `ink_to_xdotool.py FILE X0 Y0 X1 Y1`. Every other point
of a stroke is kept (a pen line of UNIPEN has hundreds)."""
import re
import sys

path, x0, y0, x1, y1 = sys.argv[1], *map(float, sys.argv[2:6])
text = open(path, encoding="utf-8").read()
strokes = []
for trace in re.findall(r"<trace(?:\s[^>]*)?>(.*?)</trace>", text, re.S):
    points = [p.split() for p in trace.strip().split(",")]
    points = [(float(v[0]), float(v[1])) for v in points if len(v) >= 2]
    if points:
        strokes.append(points)
xs = [x for s in strokes for x, _ in s]
ys = [y for s in strokes for _, y in s]
scale = min((x1 - x0) / max(1e-6, max(xs) - min(xs)), (y1 - y0) / max(1e-6, max(ys) - min(ys)))
for stroke in strokes:
    screen = [(x0 + (x - min(xs)) * scale, y0 + (y - min(ys)) * scale) for x, y in stroke]
    print("xdotool mousemove %.0f %.0f mousedown 1" % screen[0])
    for x, y in screen[1:-1:2]:
        print("xdotool mousemove %.0f %.0f" % (x, y))
    print("xdotool mousemove %.0f %.0f mouseup 1" % screen[-1])
