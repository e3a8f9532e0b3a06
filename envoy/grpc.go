package envoy

import (
	"google.golang.org/grpc"

	"github.com/actions-authz/actions-authz/envoy/internal/checkreq"
)

// DecoderOptions says how the gRPC server reads CheckRequests.
type DecoderOptions struct {
	// Protobuf reads every CheckRequest with protobuf's decoder alone
	// (server.decoder: protobuf), instead of the hand decoder that reads
	// what protobuf would at a fraction of its allocations.
	Protobuf bool
	// OnFallback, if set, is called for every CheckRequest the hand decoder
	// could not read in full and handed to protobuf: a metric's hook.
	OnFallback func()
}

// ServerOptions returns the options of the gRPC server that serves Check: a
// codec that reads CheckRequests as o says, and marshals CheckResponses
// with the marshalling code go-control-plane generates (vtprotobuf) when
// the binary is built with "-tags vtprotobuf", as the Makefile builds it,
// which costs a third of the reflection-based encoder. For every other
// message, the codec is gRPC's own.
func ServerOptions(o DecoderOptions) []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ForceServerCodecV2(checkreq.Codec{Protobuf: o.Protobuf, OnFallback: o.OnFallback})}
}
