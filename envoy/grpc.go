package envoy

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// ServerOptions returns the options of the gRPC server that serves Check:
// a codec that reads CheckRequests with readCheckRequest (decode.go), which
// decodes what protobuf's decoder would at a fraction of its allocations, and
// marshals CheckResponses with the marshalling code go-control-plane
// generates (vtprotobuf) when the binary is built with "-tags vtprotobuf", as
// the Makefile builds it, which costs a third of the reflection-based
// encoder. For every other message, the codec is gRPC's own.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ForceServerCodecV2(codec{})}
}

// vtMarshaler is what go-control-plane generates for its messages under the
// vtprotobuf build tag.
type vtMarshaler interface {
	SizeVT() int
	MarshalToSizedBufferVTStrict(dAtA []byte) (int, error)
}

// defaultCodec is gRPC's protobuf codec, registered by its package.
var defaultCodec = encoding.GetCodecV2(proto.Name)

// codec is gRPC's protobuf codec with a fast path for messages that marshal
// themselves, and one for reading CheckRequests.
type codec struct{}

func (codec) Name() string { return proto.Name }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(vtMarshaler)
	if !ok {
		return defaultCodec.Marshal(v)
	}
	size := m.SizeVT()
	if mem.IsBelowBufferPoolingThreshold(size) {
		buf := make([]byte, size)
		if _, err := m.MarshalToSizedBufferVTStrict(buf); err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if _, err := m.MarshalToSizedBufferVTStrict((*buf)[:size]); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	if req, ok := v.(*authv3.CheckRequest); ok {
		return unmarshalCheckRequest(data, req)
	}
	return defaultCodec.Unmarshal(data, v)
}
