// Package checkreq is the gRPC codec of the Check server: it reads the
// CheckRequests of Envoy's ext_authz filter with a hand decoder (Read) that
// allocates a fraction of what protobuf's does, to the same result, hands
// what it cannot read to protobuf (counted by Codec.OnFallback), and can be
// switched off (Codec.Protobuf). envoy.ServerOptions is its only user.
package checkreq
