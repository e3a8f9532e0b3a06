package examples_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/forwardauth"
)

// The addresses the example files use; the tests replace them.
const (
	exampleDir          = "forward-auth"
	exampleAuthzAddr    = "127.0.0.1:9100" // server.forward_auth_addr
	exampleUpstreamAddr = "127.0.0.1:8081" // the private service
	exampleIssuer       = "http://127.0.0.1:9002"
)

// The paths the forward-auth examples call must be the Handler's, at the
// address their config.yaml serves it on.
func TestExamplesUseTheHandlerPaths(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"nginx.conf", "proxy_pass http://actions_authz" + forwardauth.VerifyPath + ";"},
		{"Caddyfile", "uri " + forwardauth.VerifyPath + "\n"},
		{"traefik.yaml", "address: http://" + exampleAuthzAddr + forwardauth.VerifyPath + "\n"},
		{"envoy-http.yaml", "path_prefix: " + forwardauth.EnvoyPrefix + "\n"},
		{"config.yaml", "forward_auth_addr: " + exampleAuthzAddr},
	} {
		raw, err := os.ReadFile(filepath.Join(exampleDir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), c.want) {
			t.Errorf("%s does not contain %q", c.file, c.want)
		}
	}
}
