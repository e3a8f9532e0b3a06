package service

import (
	"crypto/tls"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/actions-authz/actions-authz/envoy"
)

// Limits of the servers this binary runs. Anyone who reaches Envoy can shape
// the requests Envoy forwards, and anyone who reaches these ports can open
// connections: every read is bounded in size and time.
const (
	// grpcMaxRecvBytes bounds a CheckRequest. Envoy caps request headers at
	// 60 KiB by default; a route that forwards the request body
	// (with_request_body) must keep max_request_bytes under this.
	grpcMaxRecvBytes = 256 << 10
	// grpcMaxHeaderListBytes bounds the gRPC metadata of one call.
	grpcMaxHeaderListBytes = 64 << 10
	// grpcMaxConcurrentStreams bounds the Checks in flight on one
	// connection; Envoy opens another connection beyond it.
	grpcMaxConcurrentStreams = 1024
	// grpcHandshakeTimeout bounds the TLS handshake and HTTP/2 preface of a
	// new connection.
	grpcHandshakeTimeout = 10 * time.Second
	// grpcKeepaliveMinTime is the shortest interval between a client's
	// pings that the server tolerates; a client pinging more often is sent
	// GOAWAY (too_many_pings). Envoy's connection_keepalive interval must
	// be at least this.
	grpcKeepaliveMinTime = 10 * time.Second
	// grpcKeepaliveTime and grpcKeepaliveTimeout: the server pings an idle
	// connection after Time and closes it if no answer comes within Timeout,
	// so that connections from a vanished Envoy do not pile up.
	grpcKeepaliveTime    = time.Minute
	grpcKeepaliveTimeout = 20 * time.Second

	// The HTTP server (health, readiness, metrics).
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 10 * time.Second
	httpWriteTimeout      = 10 * time.Second
	httpIdleTimeout       = time.Minute
	httpMaxHeaderBytes    = 16 << 10
)

// newGRPCServer returns the ext_authz gRPC server with its limits, serving
// TLS with tlsCfg when it is not nil and reading CheckRequests as dec says.
func newGRPCServer(tlsCfg *tls.Config, dec envoy.DecoderOptions) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(grpcMaxRecvBytes),
		grpc.MaxHeaderListSize(grpcMaxHeaderListBytes),
		grpc.MaxConcurrentStreams(grpcMaxConcurrentStreams),
		grpc.ConnectionTimeout(grpcHandshakeTimeout),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             grpcKeepaliveMinTime,
			PermitWithoutStream: true, // Envoy keeps idle connections alive
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    grpcKeepaliveTime,
			Timeout: grpcKeepaliveTimeout,
		}),
	}
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	opts = append(opts, envoy.ServerOptions(dec)...)
	return grpc.NewServer(opts...)
}

// newHTTPServer returns an HTTP server for h with its limits.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
	}
}
