package checkreq

import (
	"slices"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Reading a CheckRequest with protobuf's decoder costs about as much CPU as
// deciding it for a cached token. That decoder allocates every string of the
// request on its own, and the request is mostly strings: a dozen headers,
// the path, the host, the token.
//
// Read copies the serialized request into one string and decodes
// the fields Envoy sends on every Check by hand, each string a slice of that
// copy. It decodes what the generated code would, to the field. The fields it
// does not read by hand (metadata, the TLS session) are decoded by protobuf,
// one message each. A request it does not know how to read in
// full (an unknown field, a field of an unexpected wire type, invalid UTF-8,
// a truncated length) is handed back, and the codec decodes it with protobuf
// from the start. FuzzReadCheckRequest compares the two.

// Field numbers, from envoy/service/auth/v3 (TestFieldNumbers checks them
// against the descriptors).
const (
	fieldCheckAttributes = 1

	fieldAttrSource               = 1
	fieldAttrDestination          = 2
	fieldAttrRequest              = 4
	fieldAttrContextExtensions    = 10
	fieldAttrMetadataContext      = 11
	fieldAttrTLSSession           = 12
	fieldAttrRouteMetadataContext = 13

	fieldRequestTime = 1
	fieldRequestHTTP = 2

	fieldHTTPID        = 1
	fieldHTTPMethod    = 2
	fieldHTTPHeaders   = 3
	fieldHTTPPath      = 4
	fieldHTTPHost      = 5
	fieldHTTPScheme    = 6
	fieldHTTPQuery     = 7
	fieldHTTPFragment  = 8
	fieldHTTPSize      = 9
	fieldHTTPProtocol  = 10
	fieldHTTPBody      = 11
	fieldHTTPRawBody   = 12
	fieldHTTPHeaderMap = 13

	fieldPeerAddress     = 1
	fieldPeerService     = 2
	fieldPeerLabels      = 3
	fieldPeerPrincipal   = 4
	fieldPeerCertificate = 5

	fieldAddressSocket = 1 // the oneof's socket_address

	fieldSocketProtocol     = 1
	fieldSocketAddress      = 2
	fieldSocketPortValue    = 3 // in the oneof port_specifier
	fieldSocketResolverName = 5
	fieldSocketIPv4Compat   = 6

	fieldHeaderMapHeaders = 1

	fieldHeaderKey      = 1
	fieldHeaderValue    = 2
	fieldHeaderRawValue = 3

	fieldTimestampSeconds = 1
	fieldTimestampNanos   = 2

	fieldMapKey   = 1
	fieldMapValue = 2
)

// field is one field of a serialized message: its number, its wire type,
// and its value, a varint or the bytes of a length-delimited field.
type field struct {
	num    protowire.Number
	typ    protowire.Type
	varint uint64
	bytes  string
}

// next reads the field at the start of s and returns it with the rest of s.
// It reads varint and length-delimited fields only; ok is false for any
// other wire type, a field number out of range, or a truncated field.
func next(s string) (f field, rest string, ok bool) {
	tag, s, ok := varint(s)
	if !ok || tag>>3 < 1 || tag>>3 > uint64(protowire.MaxValidNumber) {
		return f, "", false
	}
	f.num, f.typ = protowire.Number(tag>>3), protowire.Type(tag&7)
	switch f.typ {
	case protowire.VarintType:
		f.varint, s, ok = varint(s)
		return f, s, ok
	case protowire.BytesType:
		var n uint64
		if n, s, ok = varint(s); !ok || n > uint64(len(s)) {
			return f, "", false
		}
		return field{num: f.num, typ: f.typ, bytes: s[:n]}, s[n:], true
	}
	return f, "", false
}

// varint reads a base-128 varint of at most ten bytes, as protowire does.
func varint(s string) (v uint64, rest string, ok bool) {
	for i := 0; i < len(s) && i < 10; i++ {
		b := s[i]
		if i == 9 && b > 1 {
			return 0, "", false // more than 64 bits
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, s[i+1:], true
		}
	}
	return 0, "", false
}

// str returns f as a string field: length-delimited, valid UTF-8 (proto3
// strings must be).
func (f field) str() (string, bool) {
	return f.bytes, f.typ == protowire.BytesType && utf8.ValidString(f.bytes)
}

// each calls read with every field of the message s, in order, and reports
// whether s held only fields next can read and read accepted every one.
func each(s string, read func(f field) bool) bool {
	for len(s) > 0 {
		f, rest, ok := next(s)
		if !ok || !read(f) {
			return false
		}
		s = rest
	}
	return true
}

// into reads f, a message field, into *m with read, making *m on its first
// occurrence; a later occurrence merges into it, as protobuf merges them.
func into[T any](f field, m **T, read func(string, *T) bool) bool {
	if f.typ != protowire.BytesType {
		return false
	}
	if *m == nil {
		*m = new(T)
	}
	return read(f.bytes, *m)
}

// merge reads s into m with protobuf's decoder, for the message fields that
// are not read by hand.
func merge[T any, M interface {
	*T
	proto.Message
}](s string, m M) bool {
	return proto.UnmarshalOptions{Merge: true}.Unmarshal([]byte(s), m) == nil
}

// Read decodes the serialized CheckRequest s into req, which must be empty,
// and reports whether it could; when it could not, req is partly filled and
// the caller decodes s with protobuf instead.
func Read(s string, req *authv3.CheckRequest) bool {
	return each(s, func(f field) bool {
		return f.num == fieldCheckAttributes && into(f, &req.Attributes, readAttributes)
	})
}

func readAttributes(s string, a *authv3.AttributeContext) bool {
	return each(s, func(f field) bool {
		switch f.num {
		case fieldAttrSource:
			return into(f, &a.Source, readPeer)
		case fieldAttrDestination:
			return into(f, &a.Destination, readPeer)
		case fieldAttrRequest:
			return into(f, &a.Request, readRequest)
		case fieldAttrContextExtensions:
			return readMapEntry(f, &a.ContextExtensions, 1)
		case fieldAttrMetadataContext:
			return into(f, &a.MetadataContext, merge[corev3.Metadata])
		case fieldAttrRouteMetadataContext:
			return into(f, &a.RouteMetadataContext, merge[corev3.Metadata])
		case fieldAttrTLSSession:
			return into(f, &a.TlsSession, merge[authv3.AttributeContext_TLSSession])
		}
		return false
	})
}

func readRequest(s string, r *authv3.AttributeContext_Request) bool {
	return each(s, func(f field) bool {
		switch f.num {
		case fieldRequestTime:
			return into(f, &r.Time, readTimestamp)
		case fieldRequestHTTP:
			return into(f, &r.Http, readHTTP)
		}
		return false
	})
}

func readHTTP(s string, h *authv3.AttributeContext_HttpRequest) bool {
	return each(s, func(f field) (ok bool) {
		switch f.num {
		case fieldHTTPID:
			h.Id, ok = f.str()
		case fieldHTTPMethod:
			h.Method, ok = f.str()
		case fieldHTTPHeaders:
			ok = readMapEntry(f, &h.Headers, 16)
		case fieldHTTPPath:
			h.Path, ok = f.str()
		case fieldHTTPHost:
			h.Host, ok = f.str()
		case fieldHTTPScheme:
			h.Scheme, ok = f.str()
		case fieldHTTPQuery:
			h.Query, ok = f.str()
		case fieldHTTPFragment:
			h.Fragment, ok = f.str()
		case fieldHTTPSize:
			h.Size, ok = int64(f.varint), f.typ == protowire.VarintType
		case fieldHTTPProtocol:
			h.Protocol, ok = f.str()
		case fieldHTTPBody:
			h.Body, ok = f.str()
		case fieldHTTPRawBody:
			// bytes: a copy of its own, as protobuf makes.
			h.RawBody, ok = []byte(f.bytes), f.typ == protowire.BytesType
		case fieldHTTPHeaderMap:
			ok = into(f, &h.HeaderMap, readHeaderMap)
		}
		return ok
	})
}

// readHeaderMap reads the headers Envoy sends with encode_raw_headers: the
// HeaderValues are allocated together, and so are their raw values, each a
// slice of its own capacity.
func readHeaderMap(s string, m *corev3.HeaderMap) bool {
	n, size := 0, 0
	if !each(s, func(f field) bool {
		n++
		size += len(f.bytes)
		return f.num == fieldHeaderMapHeaders && f.typ == protowire.BytesType
	}) {
		return false
	}
	vals := make([]corev3.HeaderValue, n)
	raw := make([]byte, 0, size)
	m.Headers = slices.Grow(m.Headers, n)
	i := 0
	return each(s, func(f field) bool {
		h := &vals[i]
		i++
		m.Headers = append(m.Headers, h)
		return each(f.bytes, func(f field) (ok bool) {
			switch f.num {
			case fieldHeaderKey:
				h.Key, ok = f.str()
			case fieldHeaderValue:
				h.Value, ok = f.str()
			case fieldHeaderRawValue:
				start := len(raw)
				raw = append(raw, f.bytes...)
				h.RawValue, ok = raw[start:len(raw):len(raw)], f.typ == protowire.BytesType
			}
			return ok
		})
	})
}

func readPeer(s string, p *authv3.AttributeContext_Peer) bool {
	return each(s, func(f field) (ok bool) {
		switch f.num {
		case fieldPeerAddress:
			ok = into(f, &p.Address, readAddress)
		case fieldPeerService:
			p.Service, ok = f.str()
		case fieldPeerLabels:
			ok = readMapEntry(f, &p.Labels, 1)
		case fieldPeerPrincipal:
			p.Principal, ok = f.str()
		case fieldPeerCertificate:
			p.Certificate, ok = f.str()
		}
		return ok
	})
}

// readAddress reads an Address that is a socket address, the only kind
// Envoy gives peers on a TCP listener. A second occurrence merges into the
// first, as long as the oneof holds a socket address.
func readAddress(s string, a *corev3.Address) bool {
	return each(s, func(f field) bool {
		if f.num != fieldAddressSocket {
			return false
		}
		sa, isSocket := a.Address.(*corev3.Address_SocketAddress)
		switch {
		case a.Address == nil:
			sa = new(corev3.Address_SocketAddress)
			a.Address = sa
		case !isSocket:
			return false
		}
		return into(f, &sa.SocketAddress, readSocketAddress)
	})
}

func readSocketAddress(s string, a *corev3.SocketAddress) bool {
	return each(s, func(f field) (ok bool) {
		isVarint := f.typ == protowire.VarintType
		switch f.num {
		case fieldSocketProtocol:
			a.Protocol, ok = corev3.SocketAddress_Protocol(int32(f.varint)), isVarint
		case fieldSocketAddress:
			a.Address, ok = f.str()
		case fieldSocketPortValue:
			a.PortSpecifier, ok = &corev3.SocketAddress_PortValue{PortValue: uint32(f.varint)}, isVarint
		case fieldSocketResolverName:
			a.ResolverName, ok = f.str()
		case fieldSocketIPv4Compat:
			a.Ipv4Compat, ok = f.varint != 0, isVarint
		}
		return ok
	})
}

func readTimestamp(s string, t *timestamppb.Timestamp) bool {
	return each(s, func(f field) bool {
		if f.typ != protowire.VarintType {
			return false
		}
		switch f.num {
		case fieldTimestampSeconds:
			t.Seconds = int64(f.varint)
		case fieldTimestampNanos:
			t.Nanos = int32(f.varint)
		default:
			return false
		}
		return true
	})
}

// readMapEntry adds the entry f of a map<string, string> field to *m,
// making the map, with room for size entries, on the first one. An entry
// without a key or a value has the empty string for it, and a later entry
// for a key replaces an earlier one, as protobuf decodes them.
func readMapEntry(f field, m *map[string]string, size int) bool {
	if f.typ != protowire.BytesType {
		return false
	}
	var key, val string
	if !each(f.bytes, func(e field) (ok bool) {
		switch e.num {
		case fieldMapKey:
			key, ok = e.str()
		case fieldMapValue:
			val, ok = e.str()
		}
		return ok
	}) {
		return false
	}
	if *m == nil {
		*m = make(map[string]string, size)
	}
	(*m)[key] = val
	return true
}
