// Package envoytest provides utilities for tests that meet Envoy without
// running it, in the manner of net/http/httptest: an ext_authz gRPC server
// on a loopback port, and Envoy configuration read and validated as Envoy
// would (YAML, then protojson with unknown fields refused, then PGV's
// ValidateAll down to the content of every Any).
package envoytest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// The types Envoy configurations put in an Any: protojson resolves
	// "@type" through the global registry, so a type not linked in is an
	// error.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// ServeGRPC runs srv on a loopback port, with opts, until the test ends,
// and returns a client to it.
func ServeGRPC(t testing.TB, srv authv3.AuthorizationServer, opts ...grpc.ServerOption) authv3.AuthorizationClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(opts...)
	authv3.RegisterAuthorizationServer(gs, srv)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return Dial(t, lis.Addr().String(), nil)
}

// Dial returns a client of the Check server at addr, over TLS with
// clientTLS or in plain text when it is nil, closed when the test ends.
func Dial(t testing.TB, addr string, clientTLS *tls.Config) authv3.AuthorizationClient {
	t.Helper()
	creds := insecure.NewCredentials()
	if clientTLS != nil {
		creds = credentials.NewTLS(clientTLS)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}

// UnmarshalYAML reads YAML into m: YAML to JSON, then protojson with the
// default options, which refuse unknown fields and unresolvable types.
func UnmarshalYAML(data []byte, m proto.Message) error {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	if err := protojson.Unmarshal(js, m); err != nil {
		return fmt.Errorf("%s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

// Validate runs PGV's ValidateAll on m, then on the content of every Any
// that m holds, recursively (ValidateAll alone stops at an Any: it cannot
// see a typed_config's fields), and returns every problem, each named by
// its field path below path.
func Validate(m proto.Message, path string) []error {
	var errs []error
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", orRoot(path), err))
		}
	}
	ForEachAny(m.ProtoReflect(), path, func(a *anypb.Any, path string) {
		inner, err := a.UnmarshalNew()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			return
		}
		errs = append(errs, Validate(inner, path+"<"+string(a.MessageName())+">")...)
	})
	return errs
}

// LoadFile reads the YAML file at path into m and validates it, failing
// the test on any problem.
func LoadFile(t testing.TB, path string, m proto.Message) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := UnmarshalYAML(data, m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := errors.Join(Validate(m, "")...); err != nil {
		t.Fatalf("%s fails Envoy's validation: %v", path, err)
	}
}

func orRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}

// ForEachAny calls f for every Any set in m, with its field path; it does
// not look inside the Anys.
func ForEachAny(m protoreflect.Message, path string, f func(*anypb.Any, string)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := fd.TextName()
		if path != "" {
			p = path + "." + p
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visitMessage(l.Get(i).Message(), p+"["+strconv.Itoa(i)+"]", f)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				visitMessage(mv.Message(), p+"["+k.String()+"]", f)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			visitMessage(v.Message(), p, f)
		}
		return true
	})
}

func visitMessage(m protoreflect.Message, path string, f func(*anypb.Any, string)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		f(a, path)
		return
	}
	// Name list items after their "name" field, when they have one.
	if fd := m.Descriptor().Fields().ByName("name"); fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList() {
		if name := m.Get(fd).String(); name != "" && strings.HasSuffix(path, "]") {
			path += "(" + name + ")"
		}
	}
	ForEachAny(m, path, f)
}
