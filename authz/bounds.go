package authz

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Bounds on the shape of a configuration file. The file is written by the
// platform team, but a mistake in it, or a half-written or hostile file picked
// up by a reload, must be refused in time linear in its size, never crash the
// process or exhaust its memory: YAML aliases let a few lines describe a tree
// of billions of nodes ("billion laughs") or an infinite one (an alias inside
// its own anchor), and condition values nest.
const (
	// maxExpandedNodes bounds the document with every alias expanded. A
	// policy file of hundreds of policies is a few thousand nodes.
	maxExpandedNodes = 100_000
	// maxValueDepth bounds how deeply lists and {not: ...} nest in one
	// condition value; real values nest two or three levels.
	maxValueDepth = 8
)

// checkExpansion refuses a document in which an alias contains itself, or
// whose aliases expand it to more than maxExpandedNodes nodes. It visits each
// distinct node once, so it runs in time linear in the size of the file.
func checkExpansion(root *yaml.Node) error {
	x := expansion{size: make(map[*yaml.Node]int), open: make(map[*yaml.Node]bool)}
	if x.count(root) > maxExpandedNodes {
		return &problem{msg: "the document expands to more than " + strconv.Itoa(maxExpandedNodes) +
			" nodes through its aliases; write it out or share less"}
	}
	return x.err
}

// expansion memoizes the expanded size of each node.
type expansion struct {
	size map[*yaml.Node]int  // expanded size, capped at maxExpandedNodes+1
	open map[*yaml.Node]bool // nodes being counted: meeting one again is a cycle
	err  error               // the first cycle found
}

func (x *expansion) count(n *yaml.Node) int {
	if n == nil || x.err != nil {
		return 0
	}
	if s, ok := x.size[n]; ok {
		return s
	}
	if x.open[n] {
		x.err = &problem{line: n.Line, msg: "an alias refers to a node that contains it, so the document is infinite"}
		return 0
	}
	x.open[n] = true
	total := 1
	if n.Kind == yaml.AliasNode {
		total += x.count(n.Alias)
	}
	for _, c := range n.Content {
		total += x.count(c)
		if total > maxExpandedNodes {
			total = maxExpandedNodes + 1
			break
		}
	}
	total = min(total, maxExpandedNodes+1)
	delete(x.open, n)
	x.size[n] = total
	return total
}
