package httpsyntax

import (
	"net/url"
	"strings"
	"testing"
)

// TestHeaderValue is the table of what reaches an upstream header: printable
// ASCII without '%' as it is, anything else percent-encoded, so that every
// value decodes back to the exact claim and none can pass for another.
func TestHeaderValue(t *testing.T) {
	tests := []struct {
		name, claim, header string
	}{
		{"ascii ref", "refs/heads/main", "refs/heads/main"},
		{"workflow ref", "my-org/infra/.github/workflows/deploy.yml@refs/tags/v1", "my-org/infra/.github/workflows/deploy.yml@refs/tags/v1"},
		{"space", "production east", "production east"},
		{"every other visible ASCII character", "!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~", "!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~"},
		{"empty: the claim is absent", "", ""},
		{"UTF-8", "refs/heads/café", "refs/heads/caf%C3%A9"},
		{"CJK", "環境", "%E7%92%B0%E5%A2%83"},
		{"U+0085 next line", "a\u0085b", "a%C2%85b"},
		{"U+2028 line separator", "a\u2028b", "a%E2%80%A8b"},
		{"U+2029 paragraph separator", "a\u2029b", "a%E2%80%A9b"},
		{"tab", "prod\teu", "prod%09eu"},
		{"control characters, refused by the verifier before", "a\r\n\x00\x7fb", "a%0D%0A%00%7Fb"},
		{"a percent sign", "refs/heads/100%", "refs/heads/100%25"},
		{"an encoding, written out", "refs/heads/caf%C3%A9", "refs/heads/caf%25C3%25A9"},
		{"invalid UTF-8, byte by byte", "\xff\xfe", "%FF%FE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := HeaderValue(tc.claim)
			if got != tc.header {
				t.Errorf("HeaderValue(%q) = %q, want %q", tc.claim, got, tc.header)
			}
			if back, err := url.PathUnescape(got); err != nil || back != tc.claim {
				t.Errorf("%q decodes to %q (%v), want the claim %q", got, back, err, tc.claim)
			}
			for i := 0; i < len(got); i++ {
				if b := got[i]; b < ' ' || b > '~' {
					t.Fatalf("%q holds byte %#x", got, b)
				}
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { HeaderValue("refs/heads/main") }); n != 0 {
		t.Errorf("an ASCII value costs %v allocations, want none", n)
	}
}

func TestIsToken(t *testing.T) {
	for s, want := range map[string]bool{
		"authorization": true, "X-GitHub-": true, "POST": true, "!#$%&'*+-.^_`|~09": true,
		"": false, ":path": false, "a b": false, "a\tb": false, "é": false, "a/b": false, `a"b`: false,
	} {
		if got := IsToken(s); got != want {
			t.Errorf("IsToken(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestWriteQuoted(t *testing.T) {
	for s, want := range map[string]string{
		"plain":           "plain",
		`say "hi" \ bye`:  `say \"hi\" \\ bye`,
		"a\r\nb\x00c\x7f": "a  b c ",
		"café":            "café",
	} {
		var b strings.Builder
		WriteQuoted(&b, s)
		if got := b.String(); got != want {
			t.Errorf("WriteQuoted(%q) = %q, want %q", s, got, want)
		}
	}
}
