package envoy_test

import (
	"context"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/actions-authz/actions-authz/envoy"
)

// FuzzCheck sends Check requests with arbitrary headers (as a map or as
// Envoy's raw header_map), method, host, path and context_extensions. Check
// must never panic or fail, must always set a status, must never answer OK
// with a denied_response, and must allow only a request that carries the one
// valid token the test minted. An allowed request must leave no client
// header with the identity prefix untouched: each is overwritten or removed.
func FuzzCheck(f *testing.F) {
	s := newStack(f)
	srv := envoy.NewServer(envoy.Options{Authorizer: s.authorizer})
	good := s.mint(f, nil)

	f.Add("GET", "private.example.test", "/api/x", "", "x-request-id: 1", "Bearer ", "", true, false)
	f.Add("POST", "private.example.test", "/deploy", "deploy", "x-github-repository: evil/repo\nx-github-ref: refs/heads/main", "Bearer ", "", true, true)
	f.Add("GET", "private.example.test:443", "/api/x?y=1", "default", "authorization: Bearer x", "bearer  ", " ", true, true)
	f.Add("GET", "", "", "nope", ":path: /api/x\n:authority: private.example.test", "Bearer ", ",Bearer x", true, false)
	f.Add("GET", "private.example.test", "/api/x", "", "", "Basic ", "", false, false)
	f.Add("\x00", "\xff", "/\r\n", "\x00", "a:\x00\nb\n:c", "", "", false, true)

	f.Fuzz(func(t *testing.T, method, host, path, policy, headers, authPrefix, authSuffix string, useGood, headerMap bool) {
		auth := authPrefix + authSuffix
		if useGood {
			auth = authPrefix + good + authSuffix
		}
		// Envoy sends lower-case header names.
		var pairs [][2]string
		for _, line := range strings.Split(headers, "\n") {
			k, v, _ := strings.Cut(line, ":")
			if len(line) > 0 && line[0] == ':' { // a pseudo-header
				k2, v2, _ := strings.Cut(line[1:], ":")
				k, v = ":"+k2, v2
			}
			pairs = append(pairs, [2]string{strings.ToLower(k), strings.TrimLeft(v, " ")})
		}
		pairs = append(pairs, [2]string{"authorization", auth})

		httpReq := &authv3.AttributeContext_HttpRequest{Method: method, Host: host, Path: path}
		if headerMap {
			httpReq.HeaderMap = &corev3.HeaderMap{}
			for _, p := range pairs {
				httpReq.HeaderMap.Headers = append(httpReq.HeaderMap.Headers, &corev3.HeaderValue{Key: p[0], RawValue: []byte(p[1])})
			}
		} else {
			httpReq.Headers = map[string]string{}
			for _, p := range pairs {
				httpReq.Headers[p[0]] = p[1]
			}
		}
		req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request:           &authv3.AttributeContext_Request{Http: httpReq},
			ContextExtensions: map[string]string{"policy": policy, policy: path},
		}}

		resp, err := srv.Check(context.Background(), req)
		if err != nil {
			t.Fatalf("Check returned an error: %v", err)
		}
		if resp.GetStatus() == nil {
			t.Fatal("a CheckResponse without a status: Envoy would allow it")
		}
		if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
			if resp.GetDeniedResponse() == nil {
				t.Fatal("a deny without a denied_response")
			}
			return
		}
		if resp.GetDeniedResponse() != nil {
			t.Fatal("OK with a denied_response")
		}
		if !useGood {
			t.Fatalf("allowed without the valid token: authorization %q", auth)
		}
		ok := resp.GetOkResponse()
		handled := map[string]bool{}
		for _, h := range ok.GetHeaders() {
			handled[h.GetHeader().GetKey()] = true
		}
		for _, name := range ok.GetHeadersToRemove() {
			handled[name] = true
		}
		for _, p := range pairs {
			if strings.HasPrefix(p[0], "x-github-") && !handled[p[0]] {
				t.Fatalf("allowed request keeps the client's %s header", p[0])
			}
		}
	})
}
