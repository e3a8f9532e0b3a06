package examples_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/forwardauth"
)

// The paths the forward-auth examples call must be the Handler's, at the
// address their config.yaml serves it on.
func TestExamplesUseTheHandlerPaths(t *testing.T) {
	const authzAddr = "127.0.0.1:9100" // server.forward_auth_addr
	for _, c := range []struct{ file, want string }{
		{"nginx.conf", "proxy_pass http://actions_authz" + forwardauth.VerifyPath + ";"},
		{"Caddyfile", "uri " + forwardauth.VerifyPath + "\n"},
		{"traefik.yaml", "address: http://" + authzAddr + forwardauth.VerifyPath + "\n"},
		{"envoy-http.yaml", "path_prefix: " + forwardauth.EnvoyPrefix + "\n"},
		{"config.yaml", "forward_auth_addr: " + authzAddr},
	} {
		raw, err := os.ReadFile(filepath.Join("forward-auth", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), c.want) {
			t.Errorf("%s does not contain %q", c.file, c.want)
		}
	}
}
