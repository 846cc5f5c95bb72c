// Package svgtest parses the SVG documents synfin's tools draw, for tests
// that check them for validity and for what they highlight rather than
// byte for byte.
package svgtest

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
)

// Node is an XML element with its attributes, children and text.
type Node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []Node     `xml:",any"`
	Text    string     `xml:",chardata"`
}

// Attr returns the value of the attribute with the given local name, or "".
func (n *Node) Attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// Walk calls f on n and every element below it, depth first.
func (n *Node) Walk(f func(*Node)) {
	f(n)
	for i := range n.Nodes {
		n.Nodes[i].Walk(f)
	}
}

// HasClass reports whether c is one of n's classes.
func (n *Node) HasClass(c string) bool {
	for _, f := range strings.Fields(n.Attr("class")) {
		if f == c {
			return true
		}
	}
	return false
}

var external = regexp.MustCompile(`href="(https?:|//)|@import`)

// Parse checks that svg is well-formed XML whose root is an SVG element in
// the SVG namespace and that refers to nothing outside itself, and returns
// its root. A failed check fails the test.
func Parse(t testing.TB, svg string) *Node {
	t.Helper()
	var root Node
	if err := xml.Unmarshal([]byte(svg), &root); err != nil {
		t.Fatalf("not valid XML: %v", err)
	}
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element %v, want svg in the SVG namespace", root.XMLName)
	}
	if external.MatchString(svg) {
		t.Error("SVG refers to something outside itself")
	}
	return &root
}
