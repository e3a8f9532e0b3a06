package forwardauthtest

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/forwardauth"
)

func TestStackServe(t *testing.T) {
	s := NewStack(t, "../testdata/config.yaml", "GOOD_ISSUER", "DOWN_ISSUER")
	base := s.Serve(t)
	tok := s.Mint(t, nil)
	h := With(Bearer(tok), "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/hello", "X-Forwarded-Host", "h")

	r := Do(t, http.MethodGet, base+forwardauth.VerifyPath, h)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200 (body %s)", r.Status, r.Body)
	}
	seen := s.Observed.Take()
	if len(seen) != 1 || seen[0].Decision.Outcome != authz.Allow || seen[0].Request.Path != "/hello" {
		t.Fatalf("observed %+v, want one allow of /hello", seen)
	}
	if again := s.Observed.Take(); len(again) != 0 {
		t.Errorf("Take did not forget: %d observations left", len(again))
	}
	want := IdentityHeaders(t, s.Authorizer, seen[0].Request)
	for name, v := range want {
		if got := r.Header.Get(name); got != v {
			t.Errorf("response %s = %q, IdentityHeaders says %q", name, got, v)
		}
	}

	h = With(Bearer(s.MintDown(t)), "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/hello", "X-Forwarded-Host", "h")
	if r := Do(t, http.MethodGet, base+forwardauth.VerifyPath, h); r.Status != http.StatusServiceUnavailable {
		t.Errorf("Down issuer's token: status %d, want 503", r.Status)
	}
}

func TestRawDoSendsTheTargetAsWritten(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Host", r.Host)
		w.Write([]byte(r.Method + " " + r.RequestURI))
	})}
	go srv.Serve(lis)
	defer srv.Close()
	const target = "/x/../%2e%2e//deploy;a?q=/../"
	r := RawDo(t, lis.Addr().String(), "PUT", target, With(nil, "Host", "h.example"))
	if r.Status != http.StatusOK || string(r.Body) != "PUT "+target || r.Header.Get("X-Host") != "h.example" {
		t.Errorf("got %d %q (Host %q), want 200 %q (Host h.example)", r.Status, r.Body, r.Header.Get("X-Host"), "PUT "+target)
	}
}

func TestWithAddsToACopy(t *testing.T) {
	h := Bearer("t")
	got := With(h, "authorization", "Bearer u", "X-A", "1")
	if v := h.Values("Authorization"); len(v) != 1 || len(h) != 1 {
		t.Errorf("With changed its argument: %v", h)
	}
	if v := got.Values("Authorization"); strings.Join(v, ",") != "Bearer t,Bearer u" || got.Get("X-A") != "1" {
		t.Errorf("With = %v, want both Authorization values and X-A", got)
	}
}
