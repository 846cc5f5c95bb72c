package viz

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// esc escapes text for XML content and attribute values.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#39;")
		default:
			if r < 0x20 && r != '\n' && r != '\t' {
				continue // not allowed in XML 1.0
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// num formats a coordinate compactly: "12", "12.5".
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// textWidth estimates the width in pixels of s in a sans-serif font of the
// given size (no font metrics at hand: an average glyph is ~0.56 em).
func textWidth(s string, size float64) float64 { return float64(len(s)) * size * 0.56 }

// monoWidth is the width of s in a monospace font of the given size.
func monoWidth(s string, size float64) float64 { return float64(len(s)) * size * 0.6 }

// markerID names the arrow-head marker of a colour, so that SVGs inlined in
// one HTML page share identical definitions under identical ids.
func markerID(color string) string {
	var b strings.Builder
	b.WriteString("viz-arrow-")
	for _, r := range color {
		if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteString("_")
		}
	}
	return b.String()
}

func arrowMarker(color string) string {
	return fmt.Sprintf(`<marker id="%s" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`,
		markerID(color), esc(color))
}

var sizeRE = regexp.MustCompile(`^<svg [^>]*?width="([0-9.]+)" height="([0-9.]+)"`)

// svgSize reads the width and height of an SVG this package wrote.
func svgSize(svg string) (w, h float64, ok bool) {
	m := sizeRE.FindStringSubmatch(svg)
	if m == nil {
		return 0, 0, false
	}
	w, _ = strconv.ParseFloat(m[1], 64)
	h, _ = strconv.ParseFloat(m[2], 64)
	return w, h, true
}

// Row lays SVG documents written by this package side by side, top-aligned,
// in one SVG document, under an optional title.
func Row(title string, parts ...string) string { return stack(title, true, parts) }

// Column stacks SVG documents written by this package one under the other
// in one SVG document, under an optional title.
func Column(title string, parts ...string) string { return stack(title, false, parts) }

func stack(title string, row bool, parts []string) string {
	const gap = 16
	top := 0.0
	if title != "" {
		top = 36
	}
	var body strings.Builder
	x, y := 0.0, top
	width, height := 0.0, top
	for _, p := range parts {
		w, h, ok := svgSize(p)
		if !ok {
			continue
		}
		fmt.Fprintf(&body, "<svg x=\"%s\" y=\"%s\" %s\n", num(x), num(y), strings.TrimPrefix(p, "<svg "))
		if row {
			x += w + gap
			width = x - gap
			height = max(height, top+h)
		} else {
			y += h + gap
			height = y - gap
			width = max(width, w)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s">`+"\n",
		num(width), num(height), num(width), num(height))
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	if title != "" {
		fmt.Fprintf(&b, `<text x="8" y="24" font-family="Helvetica, Arial, sans-serif" font-size="18" font-weight="bold">%s</text>`+"\n", esc(title))
	}
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return b.String()
}
