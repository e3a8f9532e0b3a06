package claims

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// PropertyPrefix starts the name of every claim that carries a repository
// custom property: an organisation or enterprise admin chooses which
// properties go into the token, and each appears as "repo_property_<name>".
const PropertyPrefix = "repo_property_"

// Extra holds the claims of a token that no field of Claims takes: the
// repo_property_* claims, and any claim GitHub adds that this package does not
// know by name. Each is kept as its JSON value and as the string values a
// policy compares (see Values). The zero value holds none. An Extra is
// immutable, and comparable with == and Equal.
type Extra struct {
	// enc is, for each claim in name order, its name, its JSON text, the
	// number of its values and the values, each length-prefixed (see
	// appendString): one string, so that a cached token's claims share it.
	enc string
}

// IsZero reports whether x holds no claim.
func (x Extra) IsZero() bool { return x.enc == "" }

// Equal reports whether x and y hold the same claims with the same values.
func (x Extra) Equal(y Extra) bool { return x.enc == y.enc }

// Names returns the names of the claims x holds, in byte order.
func (x Extra) Names() []string {
	var out []string
	for r := (extraReader{s: x.enc}); r.next(); {
		out = append(out, r.name)
	}
	return out
}

// JSON returns the value of claim name as the token holds it, in compact
// JSON ("\"platform\"", "true", "[\"a\",\"b\"]"), and whether x holds it.
func (x Extra) JSON(name string) (string, bool) {
	r, ok := x.find(name)
	return r.json, ok
}

// Values appends to buf the string values of claim name and returns the
// result; it appends nothing when x does not hold the claim or the claim has
// no value a policy can compare. A value is:
//
//   - a JSON string: the string; for a repo_property_* claim that holds a
//     comma, also each non-empty comma-separated part, because GitHub joins
//     the options of a multi-select property with "," ("us-east-1,eu-west-1")
//     and the whole string is kept so that a string property holding a comma
//     still matches as written;
//   - true or false: "true" or "false", as GitHub writes its own booleans;
//   - a number: its JSON text as the token has it ("42", "1.5", "1e3");
//   - an array: each item that is a string, boolean or number, as above
//     (no comma splitting inside an array);
//   - null or an object, and an empty string: no value.
//
// With a buf of enough capacity Values does not allocate; the strings share
// x's memory.
func (x Extra) Values(name string, buf []string) []string {
	r, ok := x.find(name)
	if !ok {
		return buf
	}
	for i := 0; i < r.count; i++ {
		var v string
		v, r.rest, _ = readString(r.rest)
		buf = append(buf, v)
	}
	return buf
}

// find returns the reader positioned on claim name.
func (x Extra) find(name string) (extraReader, bool) {
	for r := (extraReader{s: x.enc}); r.next(); {
		if r.name == name {
			return r, true
		}
	}
	return extraReader{}, false
}

// extraReader walks the claims of an Extra's encoding.
type extraReader struct {
	s     string // what follows the current claim
	name  string
	json  string
	count int
	rest  string // the current claim's values
}

// next moves to the next claim, reporting false at the end.
func (r *extraReader) next() bool {
	if r.s == "" {
		return false
	}
	r.name, r.s, _ = readString(r.s)
	r.json, r.s, _ = readString(r.s)
	n, w := binary.Uvarint([]byte(r.s[:min(len(r.s), binary.MaxVarintLen64)]))
	r.s = r.s[max(w, 0):]
	r.count, r.rest = int(n), r.s
	for range r.count {
		_, r.s, _ = readString(r.s)
	}
	return true
}

// appendString appends s to b, prefixed with its length as a uvarint: the
// encoding of an Extra, and of the cache's lists (encodeList).
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readString reads one string that appendString wrote and returns it and
// what follows, or "", "" and false when s does not start with one (which
// cannot happen: what is read was written by appendString).
func readString(s string) (v, rest string, ok bool) {
	n, w := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
	if w <= 0 || uint64(len(s)-w) < n {
		return "", "", false
	}
	return s[w : w+int(n)], s[w+int(n):], true
}

// newExtra builds the Extra of the claims in raw, which are JSON values by
// claim name. A value that is not valid JSON is an error.
func newExtra(raw map[string]json.RawMessage) (Extra, error) {
	if len(raw) == 0 {
		return Extra{}, nil
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names)
	var b []byte
	var compact bytes.Buffer
	for _, name := range names {
		compact.Reset()
		if err := json.Compact(&compact, raw[name]); err != nil {
			return Extra{}, err
		}
		vals, err := extraValues(name, compact.Bytes())
		if err != nil {
			return Extra{}, err
		}
		b = appendString(b, name)
		b = appendString(b, compact.String())
		b = binary.AppendUvarint(b, uint64(len(vals)))
		for _, v := range vals {
			b = appendString(b, v)
		}
	}
	return Extra{enc: string(b)}, nil
}

// extraValues returns the string values of claim name with JSON value raw,
// as Values documents them.
func extraValues(name string, raw []byte) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if s == "" {
			return nil, nil
		}
		out := []string{s}
		if strings.HasPrefix(name, PropertyPrefix) && strings.Contains(s, ",") {
			for part := range strings.SplitSeq(s, ",") {
				if part != "" {
					out = append(out, part)
				}
			}
		}
		return out, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		var out []string
		for _, it := range items {
			if v, ok := scalarValue(it); ok {
				out = append(out, v)
			}
		}
		return out, nil
	}
	if v, ok := scalarValue(raw); ok {
		return []string{v}, nil
	}
	return nil, nil
}

// scalarValue returns the string value of a JSON string, boolean or number
// (compact JSON), and false for anything else or an empty string.
func scalarValue(raw []byte) (string, bool) {
	switch {
	case len(raw) == 0:
		return "", false
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, s != ""
	case string(raw) == "true", string(raw) == "false":
		return string(raw), true
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		return string(raw), true
	}
	return "", false
}

// NewExtra returns the Extra of claims given as JSON values by name, for
// tests and tools that build Claims by hand; Claims.UnmarshalJSON fills
// Claims.Extra from a token. Names that a field of Claims takes are
// refused, and so is a value that is not valid JSON.
func NewExtra(claims map[string]json.RawMessage) (Extra, error) {
	for name := range claims {
		if knownName(name) {
			return Extra{}, fmt.Errorf("claim %q has a field of its own in Claims", name)
		}
	}
	return newExtra(claims)
}
