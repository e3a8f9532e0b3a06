// Package urlpath puts an untrusted HTTP request target into the normal form
// that policies' path prefixes are compared with, or says why it has none.
//
// The normal form is RFC 3986's (section 6.2.2) for the path of an http URL,
// plus merged slashes, as Envoy produces with normalize_path and
// merge_slashes and nginx for $uri:
//
//   - the query and the fragment are dropped;
//   - percent-encoded unreserved characters (letters, digits, "-", ".", "_",
//     "~") are decoded, and every other escape is kept with upper-case hex;
//   - runs of slashes become one slash;
//   - "." and ".." segments are removed (section 5.2.4), a ".." above the root
//     staying at the root.
//
// Whatever proxies and servers do not agree on is refused rather than
// guessed at, because the proxy routes, and the upstream serves, by its own
// reading of the path: an empty target, "*", a target that does not start
// with "/", a malformed escape, an encoded slash or backslash (%2F, %5C), a
// backslash, a ";" (path parameters, which some servers strip), a control
// character or an encoded NUL, a dot segment written with escapes ("%2e%2e"),
// and a ".." that would remove an empty segment ("/a//../b" is "/a/b" to
// Envoy and "/b" to nginx).
//
// Paths are case-sensitive (RFC 3986 section 6.2.2.1): "/DEPLOY/x" is
// another path than "/deploy/x", and stays so.
package urlpath

import "strings"

// Error is why a request target has no normal form. Code is a short fixed
// identifier, fit for a log field; the message is a phrase safe to return to
// a client.
type Error struct {
	Code string
	msg  string
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// The reasons a request target has no normal form. Normalize returns them
// as they are, so that errors.Is and == both work.
var (
	ErrEmpty         = &Error{"empty", "the request path is empty"}
	ErrAsterisk      = &Error{"asterisk", `the request target is "*" (OPTIONS *), not a path`}
	ErrNotAbsolute   = &Error{"not_absolute", `the request path does not start with "/"`}
	ErrEscape        = &Error{"bad_escape", "the request path holds a malformed percent-encoding"}
	ErrEncodedSlash  = &Error{"encoded_slash", "the request path holds an encoded slash or backslash (%2F, %5C)"}
	ErrBackslash     = &Error{"backslash", `the request path holds a backslash`}
	ErrParameter     = &Error{"parameter", `the request path holds a ";" (path parameters are read differently by different servers)`}
	ErrControl       = &Error{"control", "the request path holds a control character or an encoded NUL"}
	ErrEncodedDot    = &Error{"encoded_dot_segment", `the request path holds a percent-encoded "." or ".." segment`}
	ErrDotDotOnEmpty = &Error{"dot_dot_after_empty_segment", `the request path holds a ".." after an empty segment ("//"), which proxies resolve differently`}
)

// Normalize returns the normal form of the path of target, a request target
// in origin form ("/deploy/x?y=1"), or the *Error saying why it has none. A
// target already in normal form, query aside, is returned as a substring of
// target without allocating.
func Normalize(target string) (string, error) {
	p := target
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	switch {
	case p == "":
		return "", ErrEmpty
	case p == "*":
		return "", ErrAsterisk
	case p[0] != '/':
		return "", ErrNotAbsolute
	}
	if isNormal(p) {
		return p, nil
	}
	return normalize(p)
}

// isNormal reports whether p, which starts with "/", is in normal form as it
// is: nothing to decode, check, merge or remove.
func isNormal(p string) bool {
	for i := 0; i < len(p); i++ {
		switch b := p[i]; {
		case b == '%' || b == ';' || b == '\\' || b < 0x20 || b == 0x7f:
			return false
		case b == '/':
			rest := p[i+1:]
			if strings.HasPrefix(rest, "/") || isDotSegment(rest) {
				return false
			}
		}
	}
	return true
}

// isDotSegment reports whether rest, the path after a slash, starts with a
// "." or ".." segment.
func isDotSegment(rest string) bool {
	seg, _, _ := strings.Cut(rest, "/")
	return seg == "." || seg == ".."
}

// normalize is Normalize for a path that needs work.
func normalize(p string) (string, error) {
	var (
		buf      [16]string // most paths have fewer segments: no allocation
		segs     = buf[:0]  // decoded segments; "" for an empty one
		trailing bool       // the path ends in a slash, "." or ".."
		rest     = p[1:]
	)
	for {
		raw, next, more := strings.Cut(rest, "/")
		s, encodedDot, err := decodeSegment(raw)
		if err != nil {
			return "", err
		}
		trailing = false
		switch s {
		case ".", "..":
			if encodedDot {
				return "", ErrEncodedDot
			}
			trailing = true
			if s == "." {
				break
			}
			if n := len(segs); n > 0 {
				if segs[n-1] == "" {
					return "", ErrDotDotOnEmpty
				}
				segs = segs[:n-1]
			}
		case "":
			segs = append(segs, s)
			trailing = true
		default:
			segs = append(segs, s)
		}
		if !more {
			break
		}
		rest = next
	}
	var b strings.Builder
	b.Grow(len(p))
	for _, s := range segs {
		if s != "" {
			b.WriteByte('/')
			b.WriteString(s)
		}
	}
	if b.Len() == 0 || trailing {
		b.WriteByte('/')
	}
	return b.String(), nil
}

// decodeSegment decodes the escapes of unreserved characters in one raw
// segment, upper-cases the hex of the others, and refuses what Normalize
// refuses. encodedDot reports whether a "." was written as an escape.
func decodeSegment(raw string) (s string, encodedDot bool, err error) {
	clean := true
	for i := 0; i < len(raw); i++ {
		switch b := raw[i]; {
		case b == '%':
			clean = false
		case b == '\\':
			return "", false, ErrBackslash
		case b == ';':
			return "", false, ErrParameter
		case b < 0x20 || b == 0x7f:
			return "", false, ErrControl
		}
	}
	if clean {
		return raw, false, nil
	}
	if d := dotsOnly(raw); d == 1 || d == 2 {
		return "", true, ErrEncodedDot
	}
	var out strings.Builder
	out.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		b := raw[i]
		if b != '%' {
			out.WriteByte(b)
			continue
		}
		if i+2 >= len(raw) {
			return "", false, ErrEscape
		}
		hi, okHi := unhex(raw[i+1])
		lo, okLo := unhex(raw[i+2])
		if !okHi || !okLo {
			return "", false, ErrEscape
		}
		switch v := hi<<4 | lo; {
		case v == '/' || v == '\\':
			return "", false, ErrEncodedSlash
		case v == 0:
			return "", false, ErrControl
		case unreserved(v):
			out.WriteByte(v)
			encodedDot = encodedDot || v == '.'
		default:
			const hexDigits = "0123456789ABCDEF"
			out.WriteByte('%')
			out.WriteByte(hexDigits[hi])
			out.WriteByte(hexDigits[lo])
		}
		i += 2
	}
	return out.String(), encodedDot, nil
}

// dotsOnly returns how many dots raw decodes to when it is made of dots
// only, some of them encoded ("%2e", "%2E"); 0 otherwise.
func dotsOnly(raw string) int {
	n := 0
	for i := 0; i < len(raw); i++ {
		switch {
		case raw[i] == '.':
		case raw[i] == '%' && i+2 < len(raw) && raw[i+1] == '2' && (raw[i+2] == 'e' || raw[i+2] == 'E'):
			i += 2
		default:
			return 0
		}
		n++
	}
	return n
}

// unreserved reports whether b is an RFC 3986 unreserved character.
func unreserved(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
