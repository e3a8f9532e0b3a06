// Package loadclient sends Envoy-shaped Checks to an ext_authz server, for
// the loadtest command and the gRPC benchmarks of cmd/actions-authz: the
// CheckRequest Envoy sends, and a client that reads only the status code of
// each response.
package loadclient

import (
	"context"
	"fmt"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// EnvoyRequest is a CheckRequest as Envoy sends one for a request
// carrying tok: addresses, lower-case headers with pseudo-headers, and the
// route's policy in context_extensions when policy is set.
func EnvoyRequest(tok, method, host, path, policy string, n int) *authv3.CheckRequest {
	addr := func(ip string, port uint32) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
		}}}
	}
	id := fmt.Sprintf("5f0c2b9e-8a7d-4c1e-9b3a-%012d", n)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: addr("10.0.3.17", 41234)},
		Destination: &authv3.AttributeContext_Peer{Address: addr("10.0.0.2", 8443)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: strconv.Itoa(n), Method: method, Host: host, Path: path, Scheme: "https", Protocol: "HTTP/1.1",
			Headers: map[string]string{
				":authority":        host,
				":method":           method,
				":path":             path,
				":scheme":           "https",
				"accept":            "*/*",
				"authorization":     "Bearer " + tok,
				"user-agent":        "actions/http-client",
				"x-forwarded-proto": "https",
				"x-request-id":      id,
			},
		}},
	}}
	if policy != "" {
		req.Attributes.ContextExtensions = map[string]string{"policy": policy}
	}
	return req
}

// Func sends one Check and returns the status code of the response.
type Func func(ctx context.Context, req *authv3.CheckRequest) (codes.Code, error)

// FullDecode sends Checks with the generated client, which decodes the
// whole response.
func FullDecode(c authv3.AuthorizationClient) Func {
	return func(ctx context.Context, req *authv3.CheckRequest) (codes.Code, error) {
		resp, err := c.Check(ctx, req)
		if err != nil {
			return 0, err
		}
		return codes.Code(resp.GetStatus().GetCode()), nil
	}
}

// StatusOnly sends Checks and reads only the status code of each response:
// the load generator shares the machine with the server, and decoding every
// header and metadata field of a response, which the decision does not
// need, would take CPU from the server in proportion to what it answers.
func StatusOnly(conn *grpc.ClientConn) Func {
	return func(ctx context.Context, req *authv3.CheckRequest) (codes.Code, error) {
		var st checkStatus
		err := conn.Invoke(ctx, authv3.Authorization_Check_FullMethodName, req, &st, grpc.ForceCodecV2(statusCodec{}))
		return codes.Code(st), err
	}
}

// checkStatus is the status code of a CheckResponse.
type checkStatus int32

// statusCodec marshals requests as gRPC's protobuf codec does and reads
// only CheckResponse.status.code from responses.
type statusCodec struct{}

// protoCodec is gRPC's protobuf codec, registered by its package.
var protoCodec = encoding.GetCodecV2(grpcproto.Name)

func (statusCodec) Name() string { return grpcproto.Name }

func (statusCodec) Marshal(v any) (mem.BufferSlice, error) { return protoCodec.Marshal(v) }

func (statusCodec) Unmarshal(data mem.BufferSlice, v any) error {
	st, ok := v.(*checkStatus)
	if !ok {
		return fmt.Errorf("loadclient: cannot decode a response into %T", v)
	}
	b := data.Materialize()
	// CheckResponse.status is field 1, a google.rpc.Status whose code is
	// field 1; an absent status or code is OK (0), as proto3 reads it.
	status, err := lengthDelimited(b, 1)
	if err != nil {
		return err
	}
	*st = 0
	for len(status) > 0 {
		num, typ, n := protowire.ConsumeTag(status)
		if n < 0 {
			return protowire.ParseError(n)
		}
		status = status[n:]
		if num == 1 && typ == protowire.VarintType {
			code, m := protowire.ConsumeVarint(status)
			if m < 0 {
				return protowire.ParseError(m)
			}
			*st = checkStatus(int32(code))
			status = status[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, status)
		if m < 0 {
			return protowire.ParseError(m)
		}
		status = status[m:]
	}
	return nil
}

// lengthDelimited returns the last value of field num of a message, which
// must be length-delimited, or nil when the field is absent.
func lengthDelimited(b []byte, num protowire.Number) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		n, typ, m := protowire.ConsumeTag(b)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		b = b[m:]
		if n == num && typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return nil, protowire.ParseError(k)
			}
			out, b = v, b[k:]
			continue
		}
		k := protowire.ConsumeFieldValue(n, typ, b)
		if k < 0 {
			return nil, protowire.ParseError(k)
		}
		b = b[k:]
	}
	return out, nil
}
