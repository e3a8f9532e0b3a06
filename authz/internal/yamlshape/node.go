package yamlshape

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Deref follows an alias to the node it names.
func Deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Child returns the value node of key in mapping n, or nil.
func Child(n *yaml.Node, key string) *yaml.Node {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return Deref(n.Content[i+1])
		}
	}
	return nil
}

// Item returns element i of sequence n, or nil.
func Item(n *yaml.Node, i int) *yaml.Node {
	n = Deref(n)
	if n == nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return nil
	}
	return Deref(n.Content[i])
}

// Scalar returns the scalar value of key in mapping n, or "".
func Scalar(n *yaml.Node, key string) string {
	if c := Child(n, key); c != nil && c.Kind == yaml.ScalarNode {
		return c.Value
	}
	return ""
}

// Line returns the line of n, or fallback when n is nil.
func Line(n *yaml.Node, fallback int) int {
	if n == nil {
		return fallback
	}
	return n.Line
}

// Find follows path, keys and indexes from n ("token.max_bytes",
// "issuers[0].url"), and returns the line of the last node found (0 when
// none is) and the place of path up to the first segment that is missing,
// if one is; missingFrom is the node it is missing from, or nil when the
// whole path is there.
func Find(n *yaml.Node, path string) (line int, place string, missingFrom *yaml.Node) {
	for _, seg := range strings.Split(path, ".") {
		key, i := seg, -1
		if k, rest, ok := strings.Cut(seg, "["); ok {
			key = k
			i, _ = strconv.Atoi(strings.TrimSuffix(rest, "]"))
		}
		place = At(place, seg)
		parent := n
		if n = Child(n, key); n != nil && i >= 0 {
			n = Item(n, i)
		}
		if n == nil {
			return line, place, parent
		}
		line = n.Line
	}
	return line, place, nil
}

// CheckExpansion refuses a document in which an alias contains itself, or
// whose aliases expand it to more than limit nodes. It visits each distinct
// node once, so it runs in time linear in the size of the document.
func CheckExpansion(root *yaml.Node, limit int) error {
	x := expansion{limit: limit, size: make(map[*yaml.Node]int), open: make(map[*yaml.Node]bool)}
	if x.count(root) > limit {
		return &Problem{Msg: "the document expands to more than " + strconv.Itoa(limit) +
			" nodes through its aliases; write it out or share less"}
	}
	return x.err
}

// expansion memoizes the expanded size of each node.
type expansion struct {
	limit int
	size  map[*yaml.Node]int  // expanded size, capped at limit+1
	open  map[*yaml.Node]bool // nodes being counted: meeting one again is a cycle
	err   error               // the first cycle found
}

func (x *expansion) count(n *yaml.Node) int {
	if n == nil || x.err != nil {
		return 0
	}
	if s, ok := x.size[n]; ok {
		return s
	}
	if x.open[n] {
		x.err = &Problem{Line: n.Line, Msg: "an alias refers to a node that contains it, so the document is infinite"}
		return 0
	}
	x.open[n] = true
	total := 1
	if n.Kind == yaml.AliasNode {
		total += x.count(n.Alias)
	}
	for _, c := range n.Content {
		total += x.count(c)
		if total > x.limit {
			total = x.limit + 1
			break
		}
	}
	total = min(total, x.limit+1)
	delete(x.open, n)
	x.size[n] = total
	return total
}
