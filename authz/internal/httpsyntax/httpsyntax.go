// Package httpsyntax checks and writes the pieces of HTTP syntax that authz
// reads from a configuration or puts in a response: header names (RFC 9110
// tokens), quoted strings, and the values of the identity headers sent
// upstream.
package httpsyntax

import "strings"

// IsToken reports whether s is an RFC 9110 token: a valid HTTP header name
// or method. Pseudo-headers such as ":path" are not.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(b)) {
			return false
		}
	}
	return true
}

// WriteQuoted writes s as the inside of an HTTP quoted-string: quotes and
// backslashes are escaped, control characters (which would end the header)
// become spaces.
func WriteQuoted(b *strings.Builder, s string) {
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
}

// What reaches an upstream header. HTTP header values are bytes, and
// upstreams read them differently: some as Latin-1, some as UTF-8, some
// splitting lines at U+0085, U+2028 or U+2029. The verifier refuses a token
// with an ASCII control character (tab aside) in any claim, and GitHub's
// claims are ASCII but for refs, workflow paths and environment names,
// which may legitimately hold UTF-8. So an identity header carries the
// claim percent-encoded (RFC 3986, over its UTF-8 bytes), escaping only what
// needs it: a byte that is not visible ASCII or a space, and '%' itself.
// A value of visible ASCII and spaces without '%', every ID, SHA, name and
// ASCII ref, goes as it is; any value decodes back to the exact claim with
// any percent-decoder. Escaping '%' too keeps that exact: without it, a
// branch named "caf%C3%A9" would reach the upstream as the branch "café".

// HeaderValue returns claim value v as an identity header carries it:
// unchanged when every byte is visible ASCII or a space and none is '%',
// else with each such byte as %XX (upper-case hex).
func HeaderValue(v string) string {
	n := 0
	for i := 0; i < len(v); i++ {
		if !headerPlain[v[i]] {
			n++
		}
	}
	if n == 0 {
		return v
	}
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len(v)+2*n)
	for i := 0; i < len(v); i++ {
		b := v[i]
		if headerPlain[b] {
			out = append(out, b)
			continue
		}
		out = append(out, '%', hex[b>>4], hex[b&0xf])
	}
	return string(out)
}

// headerPlain is true for the bytes HeaderValue leaves as they are:
// visible ASCII and space, but '%'.
var headerPlain = func() (t [256]bool) {
	for b := ' '; b <= '~'; b++ {
		t[b] = b != '%'
	}
	return t
}()
