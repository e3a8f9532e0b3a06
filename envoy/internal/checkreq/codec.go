package checkreq

import (
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// vtMarshaler is what go-control-plane generates for its messages under the
// vtprotobuf build tag.
type vtMarshaler interface {
	SizeVT() int
	MarshalToSizedBufferVTStrict(dAtA []byte) (int, error)
}

// defaultCodec is gRPC's protobuf codec, registered by its package.
var defaultCodec = encoding.GetCodecV2(grpcproto.Name)

// Codec is gRPC's protobuf codec with a fast path for messages that marshal
// themselves, and one for reading CheckRequests (see Read). Its zero value
// uses both.
type Codec struct {
	// Protobuf reads CheckRequests with protobuf's decoder alone: the plain
	// path, for when the fast one is in doubt.
	Protobuf bool
	// OnFallback, if set, is called for every CheckRequest that Read handed
	// back to protobuf (an unknown field, say, after an Envoy upgrade): then
	// each Check runs both decoders, which nothing else would show.
	OnFallback func()
}

// Name is gRPC's name for the protobuf codec, which Codec replaces.
func (Codec) Name() string { return grpcproto.Name }

// Marshal marshals v with its generated vtprotobuf code when it has some,
// and with gRPC's protobuf codec otherwise.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
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

// Unmarshal decodes data into v, a CheckRequest with Read unless c.Protobuf,
// anything else with gRPC's protobuf codec.
func (c Codec) Unmarshal(data mem.BufferSlice, v any) error {
	req, ok := v.(*authv3.CheckRequest)
	if !ok || c.Protobuf {
		return defaultCodec.Unmarshal(data, v)
	}
	var b strings.Builder
	b.Grow(data.Len())
	for _, buf := range data {
		b.Write(buf.ReadOnlyData())
	}
	if Read(b.String(), req) {
		return nil
	}
	if c.OnFallback != nil {
		c.OnFallback()
	}
	proto.Reset(req)
	return defaultCodec.Unmarshal(data, req)
}
