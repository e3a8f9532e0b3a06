package urlpath

import (
	"errors"
	"path"
	"strings"
	"testing"
)

// normalizeTests are the targets Normalize puts in normal form, and those it
// refuses (want "").
var normalizeTests = []struct {
	in   string
	want string
	err  error
}{
	// Already normal: returned as they are, query and fragment dropped.
	{in: "/", want: "/"},
	{in: "/deploy/x", want: "/deploy/x"},
	{in: "/deploy/", want: "/deploy/"},
	{in: "/deploy/x?y=1&z=/../admin", want: "/deploy/x"},
	{in: "/deploy/x#frag", want: "/deploy/x"},
	{in: "/deploy/x?a#b", want: "/deploy/x"},
	{in: "/.well-known/x", want: "/.well-known/x"},
	{in: "/a/.../b", want: "/a/.../b"},
	{in: "/a/..b/.c", want: "/a/..b/.c"},
	{in: "/DEPLOY/x", want: "/DEPLOY/x"}, // case-sensitive: another path
	{in: "/caf\xc3\xa9", want: "/caf\xc3\xa9"},
	{in: "/a b", want: "/a b"},

	// Merged slashes.
	{in: "//deploy/x", want: "/deploy/x"},
	{in: "/deploy//x", want: "/deploy/x"},
	{in: "/deploy/x//", want: "/deploy/x/"},
	{in: "//", want: "/"},
	{in: "///", want: "/"},

	// Dot segments.
	{in: "/x/../deploy/x", want: "/deploy/x"},
	{in: "/./deploy/x", want: "/deploy/x"},
	{in: "/deploy/./x", want: "/deploy/x"},
	{in: "/deploy/x/.", want: "/deploy/x/"},
	{in: "/deploy/x/..", want: "/deploy/"},
	{in: "/deploy/..", want: "/"},
	{in: "/..", want: "/"},
	{in: "/.", want: "/"},
	{in: "/../deploy/x", want: "/deploy/x"},
	{in: "/../../deploy/x", want: "/deploy/x"},
	{in: "/a/b/../../deploy", want: "/deploy"},
	{in: "/a/./b/../c/", want: "/a/c/"},
	{in: "/x/..?/deploy", want: "/"},
	{in: "/a//b/..", want: "/a/"}, // ".." removes b, not an empty segment

	// Escapes: unreserved decoded, the others kept in upper case.
	{in: "/%64eploy/x", want: "/deploy/x"},
	{in: "/%64%65%70%6C%6f%79/x", want: "/deploy/x"},
	{in: "/a%2db%5fc%7ed%2E", want: "/a-b_c~d."},
	{in: "/%2e%2e%2e", want: "/..."},
	{in: "/a%2ex", want: "/a.x"},
	{in: "/deploy%3bx/y", want: "/deploy%3Bx/y"},
	{in: "/a%20b", want: "/a%20b"},
	{in: "/a%3f/b", want: "/a%3F/b"},
	{in: "/a%25", want: "/a%25"},
	{in: "/a%2541", want: "/a%2541"}, // decoded once, never twice
	{in: "/a%C3%A9", want: "/a%C3%A9"},
	{in: "/a%0a", want: "/a%0A"},

	// Refused.
	{in: "", err: ErrEmpty},
	{in: "?x=1", err: ErrEmpty},
	{in: "#x", err: ErrEmpty},
	{in: "*", err: ErrAsterisk},
	{in: "deploy/x", err: ErrNotAbsolute},
	{in: "http://example.com/deploy/x", err: ErrNotAbsolute},
	{in: "\\deploy\\x", err: ErrNotAbsolute},
	{in: ".", err: ErrNotAbsolute},
	{in: "/deploy%2fx", err: ErrEncodedSlash},
	{in: "/x%2F..%2Fdeploy/x", err: ErrEncodedSlash},
	{in: "/deploy%5Cx", err: ErrEncodedSlash},
	{in: "/deploy%5c..%5cx", err: ErrEncodedSlash},
	{in: "/x\\..\\deploy/x", err: ErrBackslash},
	{in: "/deploy\\x", err: ErrBackslash},
	{in: "/deploy;x/y", err: ErrParameter},
	{in: "/deploy/x;jsessionid=1", err: ErrParameter},
	{in: "/x/..;/deploy/x", err: ErrParameter},
	{in: "/deploy\x00/x", err: ErrControl},
	{in: "/deploy%00/x", err: ErrControl},
	{in: "/deploy\n/x", err: ErrControl},
	{in: "/deploy\x7f", err: ErrControl},
	{in: "/x/%2e%2e/deploy/x", err: ErrEncodedDot},
	{in: "/x/%2E%2E/deploy/x", err: ErrEncodedDot},
	{in: "/x/.%2e/deploy/x", err: ErrEncodedDot},
	{in: "/x/%2e./deploy/x", err: ErrEncodedDot},
	{in: "/%2e/deploy/x", err: ErrEncodedDot},
	{in: "/deploy/%2e", err: ErrEncodedDot},
	{in: "/a//../deploy", err: ErrDotDotOnEmpty},
	{in: "//../deploy", err: ErrDotDotOnEmpty},
	{in: "/a%", err: ErrEscape},
	{in: "/a%4", err: ErrEscape},
	{in: "/a%zz", err: ErrEscape},
	{in: "/a%%41", err: ErrEscape},
	{in: "/a%4?1", err: ErrEscape},
}

func TestNormalize(t *testing.T) {
	for _, tt := range normalizeTests {
		got, err := Normalize(tt.in)
		if got != tt.want || err != tt.err {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
			continue
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" || !strings.HasPrefix(e.Error(), "the request ") {
				t.Errorf("Normalize(%q): error %#v, want an *Error with a code and a message", tt.in, err)
			}
			continue
		}
		// Idempotent: the normal form is its own normal form.
		if again, err := Normalize(got); again != got || err != nil {
			t.Errorf("Normalize(Normalize(%q)) = %q, %v; want %q", tt.in, again, err, got)
		}
	}
}

// A path already in normal form costs no allocation: it is the request path
// of nearly every request.
func TestNormalizeNormalDoesNotAllocate(t *testing.T) {
	for _, in := range []string{"/", "/deploy/x", "/deploy/x?y=1&z=%2F", "/v1/artifacts/abc.tar.gz"} {
		if n := testing.AllocsPerRun(100, func() { Normalize(in) }); n != 0 {
			t.Errorf("Normalize(%q): %v allocations, want 0", in, n)
		}
	}
}

// FuzzNormalize checks, for any target: no panic; a normal form starts with
// "/" and holds no empty or dot segment, no query or fragment, nothing
// Normalize refuses; normalizing it again changes nothing; and without
// escapes it is path.Clean's answer but for the trailing slash.
func FuzzNormalize(f *testing.F) {
	for _, tt := range normalizeTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Normalize(in)
		if err != nil {
			if got != "" {
				t.Fatalf("Normalize(%q) = %q with error %v", in, got, err)
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Normalize(%q): error %T, want *Error", in, err)
			}
			return
		}
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("Normalize(%q) = %q: does not start with /", in, got)
		}
		for _, bad := range []string{"//", "/./", "/../", "?", "#", ";", "\\", "\x00"} {
			if strings.Contains(got, bad) {
				t.Fatalf("Normalize(%q) = %q: holds %q", in, got, bad)
			}
		}
		if strings.HasSuffix(got, "/.") || strings.HasSuffix(got, "/..") {
			t.Fatalf("Normalize(%q) = %q: ends in a dot segment", in, got)
		}
		if again, err := Normalize(got); again != got || err != nil {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", in, got, got, again, err)
		}
		if p, _, _ := strings.Cut(in, "?"); !strings.ContainsAny(p, "%#") {
			want := path.Clean(p)
			if want != "/" && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
				want += "/"
			}
			if got != want {
				t.Fatalf("Normalize(%q) = %q, path.Clean gives %q", in, got, want)
			}
		}
	})
}
