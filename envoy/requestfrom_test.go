package envoy_test

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/actions-authz/actions-authz/envoy"
)

// duplicatedHeaders is a CheckRequest whose header_map holds n copies of one
// header, as a client sends to make the joining of repeated headers costly:
// 30,000 copies fit in a 240 KB request.
func duplicatedHeaders(n int) *authv3.CheckRequest {
	hm := &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: ":method", RawValue: []byte("GET")}, {Key: ":path", RawValue: []byte("/api/x")},
		{Key: ":authority", RawValue: []byte("private.example.test")},
	}}
	for range n {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: "x-dup", RawValue: []byte("a")})
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{HeaderMap: hm}},
	}}
}

// TestRequestFromJoinsRepeatedHeaders checks the joining itself: every
// value of a repeated header, in order, joined with ",", whatever the case
// of its name, and a header sent once left as it is.
func TestRequestFromJoinsRepeatedHeaders(t *testing.T) {
	tests := []struct {
		name    string
		headers [][2]string
		want    map[string]string
	}{
		{"once", [][2]string{{"accept", "*/*"}}, map[string]string{"accept": "*/*"}},
		{"twice", [][2]string{{"accept", "a"}, {"accept", "b"}}, map[string]string{"accept": "a,b"}},
		{"three times, in order, mixed case", [][2]string{{"X-A", "1"}, {"x-b", "b"}, {"x-a", "2"}, {"X-a", "3"}},
			map[string]string{"x-a": "1,2,3", "x-b": "b"}},
		{"empty values kept", [][2]string{{"x-a", ""}, {"x-a", ""}, {"x-a", "z"}}, map[string]string{"x-a": ",,z"}},
		{"two repeated names", [][2]string{{"a", "1"}, {"b", "1"}, {"a", "2"}, {"b", "2"}}, map[string]string{"a": "1,2", "b": "1,2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hm := &corev3.HeaderMap{}
			for _, h := range tc.headers {
				hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: h[0], RawValue: []byte(h[1])})
			}
			req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
				Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{HeaderMap: hm}},
			}}
			got := envoy.RequestFrom(req).Headers
			if len(got) != len(tc.want) {
				t.Errorf("headers %q, want %q", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestRequestFromIsLinear is the regression test for the quadratic joining
// of repeated headers (prev + "," + v on each copy): ten times the copies
// must cost about ten times the bytes, not a hundred. Bytes are counted by
// the runtime, not timed.
func TestRequestFromIsLinear(t *testing.T) {
	small, large := duplicatedHeaders(3_000), duplicatedHeaders(30_000)
	bs, bl := allocatedBytes(func() { envoy.RequestFrom(small) }), allocatedBytes(func() { envoy.RequestFrom(large) })
	if bs == 0 || float64(bl)/float64(bs) > 12 {
		t.Errorf("RequestFrom allocates %d bytes for 3,000 copies of a header and %d for 30,000 (x%.1f); want at most x12",
			bs, bl, float64(bl)/float64(bs))
	}
	if got := envoy.RequestFrom(large).Headers["x-dup"]; len(got) != 2*30_000-1 {
		t.Errorf("30,000 copies of \"a\" joined into %d bytes, want %d", len(got), 2*30_000-1)
	}
}

// allocatedBytes returns the bytes f allocates, on average over a few runs.
func allocatedBytes(f func()) uint64 {
	const runs = 5
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

// BenchmarkRequestFrom translates a CheckRequest whose header_map repeats
// one header 3,000 and 30,000 times: time and bytes must grow about ten
// times, not a hundred ("make bench" prints the ratio).
func BenchmarkRequestFrom(b *testing.B) {
	for _, n := range []int{3_000, 30_000} {
		req := duplicatedHeaders(n)
		b.Run("copies="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := envoy.RequestFrom(req); !strings.HasPrefix(r.Headers["x-dup"], "a,a") {
					b.Fatal("headers not joined")
				}
			}
		})
	}
}
