#!/usr/bin/env bash
# Renders an HTML page (the fit report, fit/report.h) in headless Chromium and
# checks that the screenshot shows a page: the PNG exists, is not tiny, and —
# when python3 is here — holds many distinct colours and ink on a good part
# of its rows. A blank page has one colour; a page whose SVGs or styles broke
# has far fewer rows with anything on them.
#
# usage: tests/report_screenshot.sh PAGE.html OUT.png [MIN_COLOURS]
#   MIN_COLOURS  distinct colours the screenshot must hold (default 64)
# Exit status 0 when the page looks rendered, 1 with a message saying what is
# wrong otherwise, 2 for bad usage.
set -euo pipefail

fail() {
  echo "report_screenshot: $*" >&2
  exit 1
}

if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 PAGE.html OUT.png [MIN_COLOURS]" >&2
  exit 2
fi
html=$1
png=$2
min_colours=${3:-64}
[[ -f $html ]] || fail "$html: no such file"
[[ -d $(dirname "$png") ]] || fail "$(dirname "$png"): no such directory for the screenshot"

browser=""
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null 2>&1; then
    browser=$candidate
    break
  fi
done
[[ -n $browser ]] || fail "chromium is not on PATH (apt-get install chromium)"

html_abs="$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
png_abs="$(cd "$(dirname "$png")" && pwd)/$(basename "$png")"
url=${html_abs//%/%25}
url=${url// /%20}
url="file://${url//#/%23}"

# A fresh profile each time: two runs sharing one would fight over its lock.
profile=$(mktemp -d "${TMPDIR:-/tmp}/report_screenshot.XXXXXX")
trap 'rm -rf "$profile"' EXIT
log=$profile/chromium.log
rm -f "$png_abs"
if ! timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --hide-scrollbars --user-data-dir="$profile/user-data" --screenshot="$png_abs" \
  --window-size=1200,4000 "$url" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "$browser failed on $url (last lines of its log above)"
fi
if [[ ! -s $png_abs ]]; then
  tail -n 20 "$log" >&2
  fail "$browser wrote no screenshot at $png"
fi

# At 1200×4000 a white page compresses to about 22 KB, a page with one
# heading to 26 KB; a fit report with its plots is over 400 KB.
size=$(stat -c %s "$png_abs")
((size >= 50000)) || fail "$png is only $size bytes: the page rendered as (nearly) nothing"

if ! command -v python3 >/dev/null 2>&1; then
  echo "report_screenshot: python3 not found; checked only the screenshot's size ($size bytes)"
  exit 0
fi

# PNG decoding with the standard library only (zlib, no Pillow): chunks,
# inflate, and the five row filters of the PNG specification.
python3 - "$png_abs" "$min_colours" <<'PY'
import struct
import sys
import zlib

path, min_colours = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"report_screenshot: {path} is not a PNG")
pos, idat = 8, []
while pos + 8 <= len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat.append(body)
    elif kind == b"IEND":
        break
    pos += 12 + length
channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour_type)
if depth != 8 or channels is None or interlace:
    print(f"report_screenshot: cannot check colours of this PNG (depth {depth}, colour type "
          f"{colour_type}, interlace {interlace}); its size is fine")
    sys.exit(0)

raw = zlib.decompress(b"".join(idat))
stride = width * channels
prev = bytearray(stride)
colours, chromatic = set(), set()
background = None
inked_rows = 0
for y in range(height):
    start = y * (stride + 1)
    kind = raw[start]
    line = bytearray(raw[start + 1:start + 1 + stride])
    if kind == 1:  # Sub
        for i in range(channels, stride):
            line[i] = (line[i] + line[i - channels]) & 0xFF
    elif kind == 2:  # Up
        line = bytearray((a + b) & 0xFF for a, b in zip(line, prev)) if any(line) else bytearray(prev)
    elif kind == 3:  # Average
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif kind == 4:  # Paeth
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    prev = line
    if channels >= 3:
        pixels = set(zip(line[0::channels], line[1::channels], line[2::channels]))
        chromatic.update(p for p in pixels if max(p) - min(p) > 24)
    else:
        pixels = set(line[0::channels])
    if background is None:
        background = line[0:channels]
    if len(pixels) > 1 or line[0:channels] != background:
        inked_rows += 1
    colours |= pixels

summary = (f"{width}x{height}, {len(colours)} distinct colours ({len(chromatic)} non-grey), "
           f"{inked_rows} of {height} rows not blank")
if len(colours) < min_colours:
    sys.exit(f"report_screenshot: {path} looks blank: {summary}; expected at least {min_colours} colours")
if inked_rows < height // 20:
    sys.exit(f"report_screenshot: {path} is almost empty: {summary}")
print(f"report_screenshot: ok: {path}: {summary}")
PY
