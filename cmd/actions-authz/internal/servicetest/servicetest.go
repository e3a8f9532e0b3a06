// Package servicetest holds what the tests of the actions-authz command and
// of its service package share: configurations, issuers the tests control,
// and reading the service's log.
package servicetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// OwnerPolicy is the audience and policy most tests serve: every path, for
// the owner of the development issuer's tokens (repository_owner_id
// 123456). A configuration is its issuers followed by OwnerPolicy.
const OwnerPolicy = `audiences: ["https://github.com/octo-org"]
policies:
  - name: default
    match: {path_prefixes: [/]}
    allow:
      - repository_owner_id: "123456"
`

// OwnerConfig is a configuration that trusts issuerURL and has one policy:
// every path, for the owner of the development issuer's tokens.
func OwnerConfig(issuerURL string) string {
	return fmt.Sprintf(`
issuers:
  - url: %s
`+OwnerPolicy, issuerURL)
}

// WriteFile writes content to the file name in dir and returns its path.
func WriteFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// SyncBuffer is a buffer that a process's or service's log may be written
// to while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FollowLog copies the service's log from r into logs, line by line, and
// sends the listen addresses of its "serving" line on addrs (gRPC, then
// HTTP), until r ends.
func FollowLog(r io.Reader, logs io.Writer, addrs chan<- [2]string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		logs.Write(append(line, '\n'))
		var rec struct {
			Msg      string `json:"msg"`
			GRPCAddr string `json:"grpc_addr"`
			HTTPAddr string `json:"http_addr"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "serving" {
			addrs <- [2]string{rec.GRPCAddr, rec.HTTPAddr}
		}
	}
	io.Copy(io.Discard, r)
}
