package envoy

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// ServerOptions returns the options of the gRPC server that serves Check:
// a codec that marshals CheckResponses with the marshalling code
// go-control-plane generates (vtprotobuf) when the binary is built with
// "-tags vtprotobuf", as the Makefile builds it, which costs a third of the
// reflection-based encoder. Without the tag, and for every other message,
// the codec is gRPC's own.
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
// themselves. It reads messages exactly as gRPC's codec does.
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
	return defaultCodec.Unmarshal(data, v)
}
