//go:build vtprotobuf

package checkreq

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// TestCodecFastPath checks that the vtprotobuf build tag gives
// CheckResponse the encoder the codec looks for: if go-control-plane stops
// generating it, the tag silently stops paying.
func TestCodecFastPath(t *testing.T) {
	if _, ok := any(&authv3.CheckResponse{}).(vtMarshaler); !ok {
		t.Fatal("CheckResponse has no SizeVT/MarshalToSizedBufferVTStrict under -tags vtprotobuf")
	}
}
