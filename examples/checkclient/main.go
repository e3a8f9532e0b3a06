// Command checkclient sends one Envoy-shaped ext_authz Check to a running
// actions-authz and prints the answer, so the service can be tried without
// Envoy:
//
//	go run ./examples/checkclient --token "$TOKEN" --method POST --path /deploy/app
//
// It exits 0 when the request is allowed and 1 when it is denied.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	allowed, err := run(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "checkclient:", err)
		os.Exit(2)
	}
	if !allowed {
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) (bool, error) {
	fs := flag.NewFlagSet("checkclient", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9000", "actions-authz gRPC address")
	token := fs.String("token", "", "the OIDC token, sent as Authorization: Bearer <token>")
	method := fs.String("method", "GET", "method of the original request")
	host := fs.String("host", "private.example.test", "host (:authority) of the original request")
	path := fs.String("path", "/", "path of the original request")
	policy := fs.String("policy", "", "policy name, as an Envoy route's context_extensions would give it")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	headers := map[string]string{
		":method": *method, ":authority": *host, ":path": *path, ":scheme": "http",
		"x-request-id": fmt.Sprintf("checkclient-%d", time.Now().UnixNano()),
	}
	if *token != "" {
		headers["authorization"] = "Bearer " + *token
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: *method, Host: *host, Path: *path, Scheme: "http", Protocol: "HTTP/1.1", Headers: headers,
		}},
	}}
	if *policy != "" {
		req.Attributes.ContextExtensions = map[string]string{"policy": *policy}
	}

	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, req)
	if err != nil {
		return false, err
	}

	if codes.Code(resp.GetStatus().GetCode()) == codes.OK {
		fmt.Fprintln(stdout, "ALLOWED")
		ok := resp.GetOkResponse()
		for _, h := range ok.GetHeaders() {
			fmt.Fprintf(stdout, "  set    %s: %s\n", h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		for _, h := range ok.GetHeadersToRemove() {
			fmt.Fprintf(stdout, "  remove %s\n", h)
		}
	} else {
		d := resp.GetDeniedResponse()
		fmt.Fprintf(stdout, "DENIED %d (%s)\n", d.GetStatus().GetCode(), codes.Code(resp.GetStatus().GetCode()))
		for _, h := range d.GetHeaders() {
			fmt.Fprintf(stdout, "  %s: %s\n", h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		fmt.Fprintf(stdout, "  body: %s\n", d.GetBody())
	}
	if md := resp.GetDynamicMetadata().GetFields(); len(md) > 0 {
		keys := make([]string, 0, len(md))
		for k := range md {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(stdout, "  metadata:")
		for _, k := range keys {
			fmt.Fprintf(stdout, " %s=%v", k, md[k].AsInterface())
		}
		fmt.Fprintln(stdout)
	}
	return codes.Code(resp.GetStatus().GetCode()) == codes.OK, nil
}
