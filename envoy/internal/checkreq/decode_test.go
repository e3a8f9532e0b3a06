package checkreq

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestFieldNumbers checks the field numbers Read decodes by
// against the descriptors go-control-plane generated.
func TestFieldNumbers(t *testing.T) {
	for _, tc := range []struct {
		msg   proto.Message
		field protoreflect.Name
		want  int
	}{
		{&authv3.CheckRequest{}, "attributes", fieldCheckAttributes},
		{&authv3.AttributeContext{}, "source", fieldAttrSource},
		{&authv3.AttributeContext{}, "destination", fieldAttrDestination},
		{&authv3.AttributeContext{}, "request", fieldAttrRequest},
		{&authv3.AttributeContext{}, "context_extensions", fieldAttrContextExtensions},
		{&authv3.AttributeContext{}, "metadata_context", fieldAttrMetadataContext},
		{&authv3.AttributeContext{}, "tls_session", fieldAttrTLSSession},
		{&authv3.AttributeContext{}, "route_metadata_context", fieldAttrRouteMetadataContext},
		{&authv3.AttributeContext_Request{}, "time", fieldRequestTime},
		{&authv3.AttributeContext_Request{}, "http", fieldRequestHTTP},
		{&authv3.AttributeContext_HttpRequest{}, "id", fieldHTTPID},
		{&authv3.AttributeContext_HttpRequest{}, "method", fieldHTTPMethod},
		{&authv3.AttributeContext_HttpRequest{}, "headers", fieldHTTPHeaders},
		{&authv3.AttributeContext_HttpRequest{}, "path", fieldHTTPPath},
		{&authv3.AttributeContext_HttpRequest{}, "host", fieldHTTPHost},
		{&authv3.AttributeContext_HttpRequest{}, "scheme", fieldHTTPScheme},
		{&authv3.AttributeContext_HttpRequest{}, "query", fieldHTTPQuery},
		{&authv3.AttributeContext_HttpRequest{}, "fragment", fieldHTTPFragment},
		{&authv3.AttributeContext_HttpRequest{}, "size", fieldHTTPSize},
		{&authv3.AttributeContext_HttpRequest{}, "protocol", fieldHTTPProtocol},
		{&authv3.AttributeContext_HttpRequest{}, "body", fieldHTTPBody},
		{&authv3.AttributeContext_HttpRequest{}, "raw_body", fieldHTTPRawBody},
		{&authv3.AttributeContext_HttpRequest{}, "header_map", fieldHTTPHeaderMap},
		{&authv3.AttributeContext_Peer{}, "address", fieldPeerAddress},
		{&authv3.AttributeContext_Peer{}, "service", fieldPeerService},
		{&authv3.AttributeContext_Peer{}, "labels", fieldPeerLabels},
		{&authv3.AttributeContext_Peer{}, "principal", fieldPeerPrincipal},
		{&authv3.AttributeContext_Peer{}, "certificate", fieldPeerCertificate},
		{&corev3.Address{}, "socket_address", fieldAddressSocket},
		{&corev3.SocketAddress{}, "protocol", fieldSocketProtocol},
		{&corev3.SocketAddress{}, "address", fieldSocketAddress},
		{&corev3.SocketAddress{}, "port_value", fieldSocketPortValue},
		{&corev3.SocketAddress{}, "resolver_name", fieldSocketResolverName},
		{&corev3.SocketAddress{}, "ipv4_compat", fieldSocketIPv4Compat},
		{&corev3.HeaderMap{}, "headers", fieldHeaderMapHeaders},
		{&corev3.HeaderValue{}, "key", fieldHeaderKey},
		{&corev3.HeaderValue{}, "value", fieldHeaderValue},
		{&corev3.HeaderValue{}, "raw_value", fieldHeaderRawValue},
		{&timestamppb.Timestamp{}, "seconds", fieldTimestampSeconds},
		{&timestamppb.Timestamp{}, "nanos", fieldTimestampNanos},
	} {
		fd := tc.msg.ProtoReflect().Descriptor().Fields().ByName(tc.field)
		if fd == nil {
			t.Errorf("%s has no field %s", tc.msg.ProtoReflect().Descriptor().FullName(), tc.field)
			continue
		}
		if int(fd.Number()) != tc.want {
			t.Errorf("%s: number %d, decoded as %d", fd.FullName(), fd.Number(), tc.want)
		}
		if fd.IsMap() {
			if k, v := fd.MapKey(), fd.MapValue(); k.Number() != fieldMapKey || v.Number() != fieldMapValue ||
				k.Kind() != protoreflect.StringKind || v.Kind() != protoreflect.StringKind {
				t.Errorf("%s: not a map<string, string> of key 1 and value 2", fd.FullName())
			}
		}
	}
	// The fields read as message fields are exactly the message fields of
	// the generated types: nothing of another kind is merged by protobuf.
	attr := (&authv3.AttributeContext{}).ProtoReflect().Descriptor().Fields()
	if n := attr.Len(); n != 7 {
		t.Errorf("AttributeContext has %d fields, readAttributes knows 7", n)
	}
	http := (&authv3.AttributeContext_HttpRequest{}).ProtoReflect().Descriptor().Fields()
	if n := http.Len(); n != 13 {
		t.Errorf("AttributeContext_HttpRequest has %d fields, readHTTP knows 13", n)
	}
	if n := (&corev3.HeaderValue{}).ProtoReflect().Descriptor().Fields().Len(); n != 3 {
		t.Errorf("HeaderValue has %d fields, readHeaderMap knows 3", n)
	}
	peer := (&authv3.AttributeContext_Peer{}).ProtoReflect().Descriptor().Fields()
	if n := peer.Len(); n != 5 {
		t.Errorf("AttributeContext_Peer has %d fields, readPeer knows 5", n)
	}
}

// envoyRequest is a CheckRequest with every field Envoy sets on a Check,
// as check_request_utils.cc sets them.
func envoyRequest() *authv3.CheckRequest {
	addr := func(ip string, port uint32) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
		}}}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: addr("10.0.3.17", 41234), Principal: "spiffe://cluster.local/ns/ci/sa/runner"},
		Destination: &authv3.AttributeContext_Peer{Address: addr("10.0.0.2", 8443), Labels: map[string]string{"zone": "a"}},
		Request: &authv3.AttributeContext_Request{
			Time: &timestamppb.Timestamp{Seconds: 1764129600, Nanos: 123456789},
			Http: &authv3.AttributeContext_HttpRequest{
				Id: "7731842651043", Method: "POST", Host: "private.example.test", Path: "/deploy?env=prod",
				Scheme: "https", Protocol: "HTTP/2", Size: 42,
				Headers: map[string]string{
					":authority": "private.example.test", ":method": "POST", ":path": "/deploy?env=prod",
					":scheme": "https", "authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
					"user-agent": "actions/http-client", "x-request-id": "5f0c2b9e", "accept": "*/*",
				},
			},
		},
		ContextExtensions: map[string]string{"policy": "deploy", "team": "platform"},
		MetadataContext: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			"envoy.filters.http.jwt_authn": {Fields: map[string]*structpb.Value{"sub": structpb.NewStringValue("x")}},
		}},
		TlsSession: &authv3.AttributeContext_TLSSession{Sni: "private.example.test"},
	}}
}

func TestReadCheckRequest(t *testing.T) {
	full := envoyRequest()
	rawHeaders := proto.Clone(full).(*authv3.CheckRequest)
	rawHeaders.Attributes.Request.Http.Headers = nil
	rawHeaders.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "authorization", RawValue: []byte("Bearer a")}, {Key: "x-b3", RawValue: []byte{0xff, 0x00}},
		{Key: "x-empty", RawValue: []byte{}}, {Key: "x-both", Value: "v", RawValue: []byte("r")}, {},
	}}
	rawTwice := proto.Clone(rawHeaders).(*authv3.CheckRequest)
	rawTwice.Attributes.Request.Http.HeaderMap.Headers = rawTwice.Attributes.Request.Http.HeaderMap.Headers[:1]
	body := proto.Clone(full).(*authv3.CheckRequest)
	body.Attributes.Request.Http.Body = "{}"
	body.Attributes.Request.Http.RawBody = []byte{1, 2, 3}
	body.Attributes.Request.Http.Size = -1
	body.Attributes.RouteMetadataContext = &corev3.Metadata{}
	minimal := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{},
	}}}

	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// tag appends a field's tag, a length-delimited field's length and its
	// bytes.
	field := func(b []byte, num protowire.Number, payload []byte) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, payload)
	}
	nest := func(http []byte) []byte { // http inside request inside attributes
		return field(nil, fieldCheckAttributes, field(nil, fieldAttrRequest, field(nil, fieldRequestHTTP, http)))
	}
	entry := func(k, v string) []byte {
		return field(field(nil, fieldMapKey, []byte(k)), fieldMapValue, []byte(v))
	}

	for _, tc := range []struct {
		name string
		wire []byte
		fast bool // decoded by hand rather than handed back
	}{
		{"every field Envoy sets", marshal(full), true},
		{"raw header_map", marshal(rawHeaders), true},
		{"body, raw body, unknown size, route metadata", marshal(body), true},
		{"header_map twice: appended", append(marshal(rawHeaders), marshal(rawTwice)...), true},
		{"empty http request", marshal(minimal), true},
		{"empty request", nil, true},
		{"attributes twice: merged", append(marshal(full), marshal(minimal)...), true},
		{"a header twice: the last wins", nest(append(field(nil, fieldHTTPHeaders, entry("a", "1")), field(nil, fieldHTTPHeaders, entry("a", "2"))...)), true},
		{"map entry value before key", nest(field(nil, fieldHTTPHeaders, append(field(nil, fieldMapValue, []byte("v")), field(nil, fieldMapKey, []byte("k"))...))), true},
		{"map entry without a value", nest(field(nil, fieldHTTPHeaders, field(nil, fieldMapKey, []byte("k")))), true},
		{"method twice: the last wins", nest(append(field(nil, fieldHTTPMethod, []byte("GET")), field(nil, fieldHTTPMethod, []byte("PUT"))...)), true},
		{"non-minimal varint length", nest([]byte{fieldHTTPMethod<<3 | 2, 0x83, 0x00, 'G', 'E', 'T'}), true},

		{"a peer twice: merged", append(marshal(full), field(nil, fieldCheckAttributes, field(nil, fieldAttrSource, marshal(&authv3.AttributeContext_Peer{Service: "s"})))...), true},
		{"negative protocol and nanos", field(nil, fieldCheckAttributes, append(
			field(nil, fieldAttrSource, field(nil, fieldPeerAddress, field(nil, fieldAddressSocket, protowire.AppendVarint(protowire.AppendTag(nil, fieldSocketProtocol, protowire.VarintType), 1<<64-1)))),
			field(nil, fieldAttrRequest, field(nil, fieldRequestTime, protowire.AppendVarint(protowire.AppendTag(nil, fieldTimestampNanos, protowire.VarintType), 1<<64-1)))...)), true},

		// Handed back to protobuf, which reads them its own way or refuses them.
		{"named port", marshal(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{PortSpecifier: &corev3.SocketAddress_NamedPort{NamedPort: "http"}}}}}}}), false},
		{"pipe address", marshal(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: "/run/envoy.sock"}}}}}}), false},
		{"unknown field", nest(field(nil, 99, []byte("x"))), false},
		{"method as a varint", nest(protowire.AppendVarint(protowire.AppendTag(nil, fieldHTTPMethod, protowire.VarintType), 7)), false},
		{"invalid UTF-8 header", nest(field(nil, fieldHTTPHeaders, entry("a", "\xff"))), false},
		{"invalid UTF-8 path", nest(field(nil, fieldHTTPPath, []byte("/\xc3"))), false},
		{"truncated length", nest([]byte{fieldHTTPPath<<3 | 2, 5, '/'}), false},
		{"field number zero", []byte{0x02, 0x00}, false},
		{"fixed64 field", nest(protowire.AppendFixed64(protowire.AppendTag(nil, fieldHTTPSize, protowire.Fixed64Type), 1)), false},
		{"eleven-byte varint", nest(append([]byte{fieldHTTPSize << 3}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), false},
		{"unknown field in a map entry", nest(field(nil, fieldHTTPHeaders, field(entry("a", "b"), 3, nil))), false},
		{"unknown field in a header", nest(field(nil, fieldHTTPHeaderMap, field(nil, fieldHeaderMapHeaders, field(nil, 4, nil)))), false},
		{"header_map entry as a varint", nest(field(nil, fieldHTTPHeaderMap, protowire.AppendVarint(protowire.AppendTag(nil, fieldHeaderMapHeaders, protowire.VarintType), 1))), false},
		{"broken peer", field(nil, fieldCheckAttributes, field(nil, fieldAttrSource, []byte{0xff})), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fast authv3.CheckRequest
			if got := Read(string(tc.wire), &fast); got != tc.fast {
				t.Fatalf("decoded by hand: %v, want %v", got, tc.fast)
			}
			var want, got authv3.CheckRequest
			wantErr := proto.Unmarshal(tc.wire, &want)
			gotErr := Codec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(tc.wire)}, &got)
			if (gotErr != nil) != (wantErr != nil) {
				t.Fatalf("error %v, protobuf's %v", gotErr, wantErr)
			}
			if wantErr == nil && !proto.Equal(&got, &want) {
				t.Fatalf("decoded\n%v\nprotobuf decodes\n%v", &got, &want)
			}
			if tc.fast && !proto.Equal(&fast, &want) {
				t.Fatalf("decoded by hand\n%v\nprotobuf decodes\n%v", &fast, &want)
			}
		})
	}
}

// TestUnmarshalCheckRequestSplit: gRPC hands the codec a message in
// several buffers when it spans frames.
func TestUnmarshalCheckRequestSplit(t *testing.T) {
	wire, err := proto.Marshal(envoyRequest())
	if err != nil {
		t.Fatal(err)
	}
	var data mem.BufferSlice
	for rest := wire; len(rest) > 0; {
		n := min(len(rest), 37)
		data = append(data, mem.SliceBuffer(rest[:n]))
		rest = rest[n:]
	}
	var got authv3.CheckRequest
	if err := (Codec{}).Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, envoyRequest()) {
		t.Fatalf("decoded\n%v\nwant\n%v", &got, envoyRequest())
	}
}

// FuzzReadCheckRequest: whatever the bytes, the codec's CheckRequest is
// protobuf's, error for error, and the hand decoder never accepts what
// protobuf refuses nor decodes it differently.
func FuzzReadCheckRequest(f *testing.F) {
	for _, m := range []*authv3.CheckRequest{envoyRequest(), {}} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x02, 0x22, 0x00})
	f.Fuzz(func(t *testing.T, wire []byte) {
		var want, fast, got authv3.CheckRequest
		wantErr := proto.Unmarshal(wire, &want)
		if Read(string(wire), &fast) {
			if wantErr != nil {
				t.Fatalf("decoded by hand what protobuf refuses: %v", wantErr)
			}
			if !proto.Equal(&fast, &want) {
				t.Fatalf("decoded by hand\n%v\nprotobuf decodes\n%v", &fast, &want)
			}
		}
		gotErr := Codec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, &got)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("error %v, protobuf's %v", gotErr, wantErr)
		}
		if wantErr == nil && !proto.Equal(&got, &want) {
			t.Fatalf("decoded\n%v\nprotobuf decodes\n%v", &got, &want)
		}
	})
}

// BenchmarkUnmarshalCheckRequest reads an Envoy-shaped CheckRequest, with
// its headers as a map (Envoy's default) or as header_map
// (encode_raw_headers: true), with gRPC's protobuf codec and with this
// package's ("make bench" prints the ratio).
func BenchmarkUnmarshalCheckRequest(b *testing.B) {
	// What Envoy sends by default: no metadata or TLS session.
	req := envoyRequest()
	req.Attributes.MetadataContext, req.Attributes.TlsSession = nil, nil
	raw := proto.Clone(req).(*authv3.CheckRequest)
	http := raw.Attributes.Request.Http
	http.HeaderMap = &corev3.HeaderMap{}
	for k, v := range http.Headers {
		http.HeaderMap.Headers = append(http.HeaderMap.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	http.Headers = nil
	for _, shape := range []struct {
		name string
		req  *authv3.CheckRequest
	}{{"map", req}, {"header_map", raw}} {
		wire, err := proto.Marshal(shape.req)
		if err != nil {
			b.Fatal(err)
		}
		data := mem.BufferSlice{mem.SliceBuffer(wire)}
		for _, bc := range []struct {
			name  string
			codec func(mem.BufferSlice, any) error
		}{
			{"protobuf", defaultCodec.Unmarshal},
			{"actions-authz", Codec{}.Unmarshal},
		} {
			b.Run("headers="+shape.name+"/decoder="+bc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var req authv3.CheckRequest
					if err := bc.codec(data, &req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
