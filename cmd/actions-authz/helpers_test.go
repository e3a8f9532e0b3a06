package main

import (
	"bufio"
	"encoding/json"
	"io"
)

// ownerPolicy is the audience and policy most tests serve: every path, for
// the owner of the development issuer's tokens (repository_owner_id
// 123456). A configuration is its issuers followed by ownerPolicy.
const ownerPolicy = `audiences: ["https://github.com/octo-org"]
policies:
  - name: default
    match: {path_prefixes: [/]}
    allow:
      - repository_owner_id: "123456"
`

// followLog copies the service's log from r into logs, line by line, and
// sends the listen addresses of its "serving" line on addrs (gRPC, then
// HTTP), until r ends.
func followLog(r io.Reader, logs io.Writer, addrs chan<- [2]string) {
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
