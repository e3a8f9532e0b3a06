// Package yamlshape checks a YAML node tree against the Go types it will be
// decoded into, before it is decoded, and places what is wrong by line and
// by path of keys and indexes (`policies[0]: allow[1]: ref`), so that every
// problem of a file can be reported in one run. It also bounds what a
// document's aliases expand to, and has the small helpers that find a node
// and its line. It knows nothing of what the document configures: the
// caller names the types, and what is special about some of them.
package yamlshape

import (
	"errors"
	"strconv"
	"strings"
)

// Problem is one error in a document: where it is and what is wrong.
type Problem struct {
	File  string // "" when the document is not a file
	Line  int    // 0 when unknown
	Place string // e.g. `policy "deploy" (policies[0]): allow[1]: ref`
	Msg   string
}

// Error renders the problem as "file:line: place: msg", leaving out what
// is unknown; without a file, the line is "line N: ".
func (p *Problem) Error() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		b.WriteString(p.File + ":" + strconv.Itoa(p.Line) + ": ")
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Place != "" {
		b.WriteString(p.Place + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// At joins two parts of a place: "allow" and "[1]" give "allow[1]", "allow[1]"
// and "ref" give "allow[1]: ref".
func At(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case child[0] == '[':
		return parent + child
	}
	return parent + ": " + child
}

// Index renders a sequence index as a place: "[3]".
func Index(i int) string { return "[" + strconv.Itoa(i) + "]" }

// QuoteJoin renders a list in a message: each item quoted, joined with
// ", ": "a", "b".
func QuoteJoin(list []string) string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strconv.Quote(s)
	}
	return strings.Join(out, ", ")
}

// Problems flattens err (a *Problem, an errors.Join of them, or anything
// else) into problems placed under place.
func Problems(place string, err error) []*Problem {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok { // errors.Join
		var out []*Problem
		for _, e := range j.Unwrap() {
			out = append(out, Problems(place, e)...)
		}
		return out
	}
	var p *Problem
	if errors.As(err, &p) {
		q := *p
		q.Place = At(place, p.Place)
		return []*Problem{&q}
	}
	return []*Problem{{Place: place, Msg: err.Error()}}
}

// Errors returns ps as errors, for errors.Join.
func Errors(ps []*Problem) []error {
	out := make([]error, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}
