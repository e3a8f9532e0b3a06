package envoy_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/authztest"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/envoytest"
)

// stack is a test issuer, a verifier and a Check server on loopback.
type stack struct {
	issuer     *devissuer.Issuer
	jwksFetch  atomic.Int32
	jwksFail   atomic.Bool
	client     authv3.AuthorizationClient
	maxBytes   int
	verifier   *claims.Verifier
	authorizer *authz.Authorizer
}

func newStack(t testing.TB) *stack {
	t.Helper()
	s := &stack{}
	var handler atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/jwks") {
			s.jwksFetch.Add(1)
			if s.jwksFail.Load() {
				http.Error(w, "down", http.StatusInternalServerError)
				return
			}
		}
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	iss, err := devissuer.New(devissuer.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	h := iss.Handler()
	handler.Store(&h)
	s.issuer = iss

	raw, err := os.ReadFile("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := authztest.Start(t, strings.ReplaceAll(string(raw), "ISSUER_URL", srv.URL))
	s.maxBytes = st.Config.Token.MaxBytes
	s.verifier, s.authorizer = st.Verifier, st.Authorizer
	authztest.WaitReady(t, s.verifier)
	s.client = envoytest.ServeGRPC(t, envoy.NewServer(envoy.Options{Authorizer: s.authorizer}))
	return s
}

// checkRequest is shaped as Envoy sends it: lower-case keys, pseudo-headers
// in the map, the query string in the path.
func checkRequest(policy, path string, headers map[string]string) *authv3.CheckRequest {
	h := map[string]string{
		":authority": "private.example.test", ":method": "GET", ":path": path, ":scheme": "https",
		"x-request-id": "req-1", "user-agent": "curl/8",
	}
	for k, v := range headers {
		h[k] = v
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1234", Method: "GET", Host: "private.example.test", Path: path, Scheme: "https",
			Protocol: "HTTP/1.1", Headers: h,
		}},
	}}
	if policy != "" {
		req.Attributes.ContextExtensions = map[string]string{"policy": policy}
	}
	return req
}

func bearer(tok string) map[string]string { return map[string]string{"authorization": "Bearer " + tok} }

func (s *stack) mint(t testing.TB, c map[string]any) string {
	t.Helper()
	tok, err := s.issuer.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (s *stack) mintHeader(t *testing.T, h map[string]any) string {
	t.Helper()
	tok, err := s.issuer.MintWith(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (s *stack) check(t *testing.T, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := s.client.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check returned an error, want a CheckResponse: %v", err)
	}
	if resp.GetStatus() == nil {
		t.Fatal("CheckResponse without a status: Envoy would allow it")
	}
	if err := resp.ValidateAll(); err != nil {
		t.Fatalf("CheckResponse fails Envoy's validation: %v", err)
	}
	if codes.Code(resp.GetStatus().GetCode()) == codes.OK && resp.GetDeniedResponse() != nil {
		t.Fatal("OK with a denied_response")
	}
	return resp
}

// httpStatus is what Envoy would send the client: 200 for allow, else the
// denied_response status.
func httpStatus(resp *authv3.CheckResponse) int {
	if codes.Code(resp.GetStatus().GetCode()) == codes.OK {
		return 200
	}
	return int(resp.GetDeniedResponse().GetStatus().GetCode())
}

func deniedHeader(resp *authv3.CheckResponse, name string) string {
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		if h.GetHeader().GetKey() == name {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

func TestCheckAllowSetsIdentityHeaders(t *testing.T) {
	s := newStack(t)
	tok := s.mint(t, map[string]any{"repository": "octo-org/infra", "environment": nil})
	req := checkRequest("deploy", "/deploy?x=1", bearer(tok))
	h := req.Attributes.Request.Http.Headers
	h["x-github-repository"] = "evil/repo"   // spoofed: must be overwritten
	h["x-github-anything-else"] = "smuggled" // spoofed, not an identity header we set: removed
	h["x-github-environment"] = "production" // spoofed, claim absent: removed

	resp := s.check(t, req)
	if got := httpStatus(resp); got != 200 {
		t.Fatalf("status = %d, body %q", got, resp.GetDeniedResponse().GetBody())
	}
	ok := resp.GetOkResponse()
	set := map[string]string{}
	for _, hv := range ok.GetHeaders() {
		// append is deprecated: read it through reflection rather than its
		// getter, to check that it is unset.
		m := hv.ProtoReflect()
		appendSet := m.Has(m.Descriptor().Fields().ByName("append"))
		if hv.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD || appendSet {
			t.Errorf("header %s: append_action %v, append set %v; want OVERWRITE_IF_EXISTS_OR_ADD and append unset",
				hv.GetHeader().GetKey(), hv.GetAppendAction(), appendSet)
		}
		set[hv.GetHeader().GetKey()] = hv.GetHeader().GetValue()
	}
	want := map[string]string{
		"x-github-repository":          "octo-org/infra",
		"x-github-repository-id":       "456789",
		"x-github-repository-owner":    "octo-org",
		"x-github-repository-owner-id": "123456",
		"x-github-ref":                 "refs/heads/main",
	}
	for k, v := range want {
		if set[k] != v {
			t.Errorf("set %s = %q, want %q", k, set[k], v)
		}
	}
	removed := map[string]bool{}
	for _, name := range ok.GetHeadersToRemove() {
		removed[name] = true
		if _, alsoSet := set[name]; alsoSet {
			t.Errorf("%s is both set and removed: Envoy removes after setting", name)
		}
	}
	for _, name := range []string{"authorization", "x-github-anything-else", "x-github-environment"} {
		if !removed[name] {
			t.Errorf("%s not in headers_to_remove %v", name, ok.GetHeadersToRemove())
		}
	}
	md := resp.GetDynamicMetadata().GetFields()
	if md["policy"].GetStringValue() != "deploy" || md["repository"].GetStringValue() != "octo-org/infra" {
		t.Errorf("dynamic metadata = %v", md)
	}
}

func TestCheckSelectsPolicyByMatch(t *testing.T) {
	s := newStack(t)
	tok := s.mint(t, nil)
	resp := s.check(t, checkRequest("", "/api/v1/things?page=2", bearer(tok)))
	if got := httpStatus(resp); got != 200 {
		t.Fatalf("status = %d, body %q", got, resp.GetDeniedResponse().GetBody())
	}
	if p := resp.GetDynamicMetadata().GetFields()["policy"].GetStringValue(); p != "default" {
		t.Errorf("policy = %q, want default", p)
	}
}

func TestCheckRawHeaderMap(t *testing.T) {
	s := newStack(t)
	tok := s.mint(t, nil)
	req := checkRequest("", "/api/x", nil)
	hm := &corev3.HeaderMap{}
	for k, v := range req.Attributes.Request.Http.Headers {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: "authorization", RawValue: []byte("Bearer " + tok)})
	req.Attributes.Request.Http.Headers = nil
	req.Attributes.Request.Http.HeaderMap = hm
	if got := httpStatus(s.check(t, req)); got != 200 {
		t.Fatalf("header_map request: status = %d, want 200", got)
	}
	// Two authorization entries are two tokens: refused.
	hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: "authorization", RawValue: []byte("Bearer " + tok)})
	if got := httpStatus(s.check(t, req)); got != 401 {
		t.Fatalf("two authorization entries: status = %d, want 401", got)
	}
}

func TestCheckDenials(t *testing.T) {
	s := newStack(t)
	good := s.mint(t, nil)
	parts := strings.Split(good, ".")
	other, err := devissuer.New(devissuer.Options{URL: "https://token.actions.githubusercontent.com"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.Mint(nil) // right shape, signed by a key our issuer never published

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kid := jwtKID(t, good)
	resigned := func(method jwt.SigningMethod, k any) string {
		claimsJSON, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var mc jwt.MapClaims
		if err := json.Unmarshal(claimsJSON, &mc); err != nil {
			t.Fatal(err)
		}
		tk := jwt.NewWithClaims(method, mc)
		tk.Header["kid"] = kid
		out, err := tk.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	pubPEM := publicPEM(t, s)
	hs256 := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"` + kid + `"}`))
		mac := hmac.New(sha256.New, pubPEM)
		mac.Write([]byte(h + "." + parts[1]))
		return h + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}()
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	big := s.mint(t, map[string]any{"workflow": strings.Repeat("w", s.maxBytes)})

	now := time.Now()
	tests := []struct {
		name    string
		policy  string
		path    string
		headers map[string]string
		status  int
		code    codes.Code
		detail  string // expected in the body or www-authenticate
	}{
		{name: "no header", headers: nil, status: 401, code: codes.Unauthenticated},
		{name: "basic scheme", headers: map[string]string{"authorization": "Basic b2N0bzpwdw=="}, status: 401, code: codes.Unauthenticated},
		{name: "two tokens joined by envoy", headers: map[string]string{"authorization": "Bearer " + good + ",Bearer " + good}, status: 401, code: codes.Unauthenticated, detail: "invalid_request"},
		{name: "garbage", headers: bearer("not-a-jwt"), status: 401, code: codes.Unauthenticated, detail: "invalid_token"},
		{name: "bad signature", headers: bearer(parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 256))), status: 401, code: codes.Unauthenticated, detail: "invalid_token"},
		{name: "signed by another key with our kid", headers: bearer(resigned(jwt.SigningMethodRS256, key)), status: 401, code: codes.Unauthenticated},
		{name: "alg none", headers: bearer(none), status: 401, code: codes.Unauthenticated},
		{name: "HS256 with the public key", headers: bearer(hs256), status: 401, code: codes.Unauthenticated},
		{name: "RS384", headers: bearer(resigned(jwt.SigningMethodRS384, key)), status: 401, code: codes.Unauthenticated},
		{name: "unknown kid", headers: bearer(s.mintHeader(t, map[string]any{"kid": "no-such-key"})), status: 401, code: codes.Unauthenticated},
		{name: "expired", headers: bearer(s.mint(t, map[string]any{"iat": now.Add(-time.Hour).Unix()})), status: 401, code: codes.Unauthenticated},
		{name: "nbf beyond leeway", headers: bearer(s.mint(t, map[string]any{"nbf": now.Add(10 * time.Minute).Unix(), "iat": now.Unix()})), status: 401, code: codes.Unauthenticated},
		{name: "wrong issuer", headers: bearer(foreign), status: 401, code: codes.Unauthenticated},
		{name: "issuer with trailing slash", headers: bearer(s.mint(t, map[string]any{"iss": s.issuer.URL() + "/"})), status: 401, code: codes.Unauthenticated},
		{name: "look-alike issuer", headers: bearer(s.mint(t, map[string]any{"iss": "https://token.actions.githubusercontent.com.evil.example"})), status: 401, code: codes.Unauthenticated},
		{name: "wrong audience", headers: bearer(s.mint(t, map[string]any{"aud": "https://github.com/evil"})), status: 401, code: codes.Unauthenticated},
		{name: "missing sub", headers: bearer(s.mint(t, map[string]any{"sub": nil})), status: 401, code: codes.Unauthenticated},
		{name: "too large", headers: bearer(big), status: 401, code: codes.Unauthenticated},
		{name: "repository no rule allows", headers: bearer(s.mint(t, map[string]any{"repository_owner_id": "999"})), status: 403, code: codes.PermissionDenied},
		{name: "route with no policy", path: "/elsewhere", headers: bearer(good), status: 403, code: codes.PermissionDenied, detail: "no policy"},
		{name: "unknown policy name", policy: "nope", headers: bearer(good), status: 403, code: codes.PermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/api/things"
			}
			resp := s.check(t, checkRequest(tc.policy, path, tc.headers))
			if got := httpStatus(resp); got != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", got, tc.status, resp.GetDeniedResponse().GetBody())
			}
			if got := codes.Code(resp.GetStatus().GetCode()); got != tc.code {
				t.Errorf("grpc code = %v, want %v", got, tc.code)
			}
			body := resp.GetDeniedResponse().GetBody()
			if !json.Valid([]byte(body)) {
				t.Errorf("body is not JSON: %q", body)
			}
			if deniedHeader(resp, "content-type") != "application/json" {
				t.Errorf("content-type = %q", deniedHeader(resp, "content-type"))
			}
			wa := deniedHeader(resp, "www-authenticate")
			if tc.status == 401 && !strings.HasPrefix(wa, `Bearer realm="actions-authz"`) {
				t.Errorf("www-authenticate = %q", wa)
			}
			if tc.status != 401 && wa != "" {
				t.Errorf("www-authenticate on a %d: %q", tc.status, wa)
			}
			if tc.detail != "" && !strings.Contains(body+wa, tc.detail) {
				t.Errorf("body %q / www-authenticate %q do not mention %q", body, wa, tc.detail)
			}
			for _, tok := range []string{good, big} {
				if strings.Contains(body, tok) || strings.Contains(wa, tok) || strings.Contains(resp.GetStatus().GetMessage(), tok) {
					t.Error("the token is echoed in the response")
				}
			}
		})
	}
}

func TestCheckUnavailableBeforeKeys(t *testing.T) {
	s := newStack(t) // gives a working issuer; now build a verifier that never got keys
	s.jwksFail.Store(true)
	raw, _ := os.ReadFile("testdata/config.yaml")
	cfg, err := config.Parse([]byte(strings.ReplaceAll(string(raw), "ISSUER_URL", s.issuer.URL())))
	if err != nil {
		t.Fatal(err)
	}
	v, err := claims.NewVerifier(claims.Config{Issuers: cfg.Issuers, Audiences: cfg.AllAudiences()})
	if err != nil {
		t.Fatal(err)
	}
	client := envoytest.ServeGRPC(t, envoy.NewServer(envoy.Options{Authorizer: authz.NewAuthorizer(v, cfg.Engine())}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := client.Check(ctx, checkRequest("", "/api/x", bearer(s.mint(t, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if got := httpStatus(resp); got != 503 {
		t.Fatalf("status = %d, want 503", got)
	}
	if codes.Code(resp.GetStatus().GetCode()) != codes.Unavailable {
		t.Errorf("grpc code = %v", codes.Code(resp.GetStatus().GetCode()))
	}
	if deniedHeader(resp, "retry-after") == "" {
		t.Error("no retry-after on 503")
	}
}

func TestCheckKeyRotation(t *testing.T) {
	s := newStack(t)
	if err := s.issuer.Rotate(); err != nil {
		t.Fatal(err)
	}
	before := s.jwksFetch.Load()
	resp := s.check(t, checkRequest("", "/api/x", bearer(s.mint(t, nil))))
	if got := httpStatus(resp); got != 200 {
		t.Fatalf("token signed by the new key: status = %d, want 200 on its first request", got)
	}
	// A hundred random kids within refresh_min_interval (1h here) cost at
	// most one more fetch.
	fetchesAfterRotation := s.jwksFetch.Load()
	for i := 0; i < 100; i++ {
		tok := s.mintHeader(t, map[string]any{"kid": randomKID(t)})
		if got := httpStatus(s.check(t, checkRequest("", "/api/x", bearer(tok)))); got != 401 {
			t.Fatalf("random kid: status = %d, want 401", got)
		}
	}
	if extra := s.jwksFetch.Load() - fetchesAfterRotation; extra > 1 {
		t.Errorf("100 random kids caused %d JWKS fetches, want at most 1", extra)
	}
	if fetchesAfterRotation-before != 1 {
		t.Errorf("rotation caused %d fetches, want 1", fetchesAfterRotation-before)
	}
}

func TestCheckJWKSOutageKeepsKnownKeys(t *testing.T) {
	s := newStack(t)
	s.jwksFail.Store(true)
	if err := s.verifier.Refresh(context.Background(), s.issuer.URL()); err == nil {
		t.Fatal("refresh against a failing JWKS server succeeded")
	}
	if got := httpStatus(s.check(t, checkRequest("", "/api/x", bearer(s.mint(t, nil))))); got != 200 {
		t.Fatalf("known key during outage: status = %d, want 200", got)
	}
}

func TestCheckWithoutHTTPAttributesIsAnError(t *testing.T) {
	s := newStack(t)
	_, err := s.client.Check(context.Background(), &authv3.CheckRequest{})
	if err == nil {
		t.Fatal("empty CheckRequest answered without error")
	}
}

func jwtKID(t *testing.T, tok string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(h, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.KID
}

func publicPEM(t *testing.T, s *stack) []byte {
	t.Helper()
	var set struct {
		Keys []struct{ N, E string } `json:"keys"`
	}
	if err := json.Unmarshal(s.issuer.JWKS(), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v", err)
	}
	n, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].N)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func randomKID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
