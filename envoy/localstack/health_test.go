package localstack_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// lateIssuer is an issuer whose discovery and keys answer 503 until it is
// switched on: the actions-authz that trusts it is not ready until then.
type lateIssuer struct {
	url string
	up  atomic.Bool
}

func startLateIssuer(t *testing.T) *lateIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	iss := &lateIssuer{url: "http://" + lis.Addr().String()}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": "late", "use": "sig", "alg": "RS256",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	discovery, _ := json.Marshal(map[string]any{"issuer": iss.url, "jwks_uri": iss.url + "/jwks"})
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !iss.up.Load() {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			w.Write(discovery)
		case "/jwks":
			w.Write(jwks)
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return iss
}

// withIssuer adds an issuer to an actions-authz configuration.
func withIssuer(t *testing.T, config []byte, url string) []byte {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(config, &doc); err != nil {
		t.Fatal(err)
	}
	doc["issuers"] = append(doc["issuers"].([]any), map[string]any{"url": url})
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An actions-authz that is not ready (one issuer's keys not yet fetched)
// reports NOT_SERVING: Envoy's health check takes it out, requests get 503
// and never reach the upstream. Once the keys come, Envoy puts it back.
func TestNotReadyIsTakenOut(t *testing.T) {
	t.Parallel()
	o := stackOptions(t)
	late := startLateIssuer(t)
	envoyConfig, authzConfig, err := localstack.RenderCompose(root, o.Addrs)
	if err != nil {
		t.Fatal(err)
	}
	o.EnvoyConfig, o.AuthzConfig = envoyConfig, withIssuer(t, authzConfig, late.url)
	o.NoWait = true
	s := startStack(t, o)
	base := "http://" + s.Addrs.Listener
	token, _ := mint(t, s.Addrs.Dev, nil) // its issuer is ready; the service is not

	if r := send(t, "GET", "http://"+s.Addrs.HTTP+"/readyz", "", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz: %d, want 503 while an issuer has no keys", r.status)
	}
	hosts, err := s.Envoy.HostHealth("actions_authz")
	if err != nil {
		t.Fatal(err)
	}
	if flags := hosts[s.Addrs.GRPC]; !strings.Contains(flags, "failed_active_hc") {
		t.Errorf("Envoy's /clusters: actions_authz host %s has health flags %q, want failed_active_hc", s.Addrs.GRPC, flags)
	}
	before := upstreamRequests(t, s)
	if r := send(t, "GET", base+"/hello", token, nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("a request while actions-authz is not ready: %d, want 503", r.status)
	}
	if after := upstreamRequests(t, s); after != before {
		t.Errorf("a request reached the upstream while actions-authz was not ready")
	}

	late.up.Store(true)
	start := time.Now()
	eventually(t, 60*time.Second, "Envoy puts actions-authz back", func() error {
		hosts, err := s.Envoy.HostHealth("actions_authz")
		if err != nil {
			return err
		}
		if flags := hosts[s.Addrs.GRPC]; flags != "healthy" {
			return fmt.Errorf("health flags %q", flags)
		}
		return nil
	})
	t.Logf("healthy in Envoy %v after the issuer's keys came", time.Since(start).Round(100*time.Millisecond))
	if r := send(t, "GET", base+"/hello", token, nil); r.status != http.StatusOK {
		t.Errorf("after recovery: %d, want 200: %s", r.status, r.body)
	}
}
