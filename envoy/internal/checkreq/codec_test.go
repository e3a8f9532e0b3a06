package checkreq

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TestCodecFallback: a request Read hands back is decoded by protobuf and
// counted; one it reads is not counted; with Protobuf set, Read is never
// used and nothing is counted.
func TestCodecFallback(t *testing.T) {
	known, err := proto.Marshal(envoyRequest())
	if err != nil {
		t.Fatal(err)
	}
	// A field Envoy does not send today, as a newer Envoy might.
	unknown := protowire.AppendString(protowire.AppendTag(nil, 99, protowire.BytesType), "new")
	unknown = protowire.AppendBytes(protowire.AppendTag(nil, fieldCheckAttributes, protowire.BytesType), unknown)
	for _, tc := range []struct {
		name      string
		protobuf  bool
		wire      []byte
		fallbacks int
	}{
		{"known fields", false, known, 0},
		{"an unknown field", false, unknown, 1},
		{"protobuf alone, known fields", true, known, 0},
		{"protobuf alone, an unknown field", true, unknown, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			c := Codec{Protobuf: tc.protobuf, OnFallback: func() { n++ }}
			var got, want authv3.CheckRequest
			if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(tc.wire)}, &got); err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(tc.wire, &want); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&got, &want) {
				t.Errorf("decoded\n%v\nprotobuf decodes\n%v", &got, &want)
			}
			if n != tc.fallbacks {
				t.Errorf("OnFallback called %d times, want %d", n, tc.fallbacks)
			}
		})
	}
}
