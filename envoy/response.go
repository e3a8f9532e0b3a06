package envoy

import (
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/actions-authz/actions-authz/authz"
)

var retryAfter = strconv.Itoa(authz.RetryAfterSeconds)

// Response builds the CheckResponse for a decision. It always sets Status.
func Response(d *authz.Decision) *authv3.CheckResponse {
	if d.Outcome == authz.Allow {
		return allowResponse(d)
	}
	return denyResponse(d)
}

// allowResponse builds an OK response. The header options and their values
// are allocated in one slice rather than one by one: with a dozen identity
// headers that is most of the allocations of a cached Check.
func allowResponse(d *authz.Decision) *authv3.CheckResponse {
	set := 0
	for _, h := range d.Set {
		if h.Value != "" {
			set++
		}
	}
	hs := make([]headerOption, set)
	r := &allowed{
		ok: authv3.OkHttpResponse{
			Headers:         make([]*corev3.HeaderValueOption, 0, set),
			HeadersToRemove: d.Remove,
		},
	}
	for _, h := range d.Set {
		if h.Value == "" {
			// Envoy cannot set an empty header; make sure a client's copy of it
			// does not reach the upstream either.
			r.ok.HeadersToRemove = append(r.ok.HeadersToRemove, h.Name)
			continue
		}
		i := len(r.ok.Headers)
		hs[i].val.Key, hs[i].val.Value = h.Name, h.Value
		hs[i].opt.Header = &hs[i].val
		hs[i].opt.AppendAction = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		r.ok.Headers = append(r.ok.Headers, &hs[i].opt)
	}
	r.status.Code = int32(codes.OK)
	r.oneof.OkResponse = &r.ok
	r.resp.Status = &r.status
	r.resp.HttpResponse = &r.oneof
	r.resp.DynamicMetadata = metadata(d)
	return &r.resp
}

// headerOption is one header of an OK response with its value, allocated
// together.
type headerOption struct {
	opt corev3.HeaderValueOption
	val corev3.HeaderValue
}

// allowed is every fixed-size part of an OK response, allocated at once.
type allowed struct {
	resp   authv3.CheckResponse
	status rpcstatus.Status
	oneof  authv3.CheckResponse_OkResponse
	ok     authv3.OkHttpResponse
}

func denyResponse(d *authz.Decision) *authv3.CheckResponse {
	code := codes.PermissionDenied
	headers := []*corev3.HeaderValueOption{overwrite("content-type", "application/json")}
	switch d.Outcome {
	case authz.Unauthenticated:
		code = codes.Unauthenticated
		headers = append(headers, overwrite("www-authenticate", d.WWWAuthenticate()))
	case authz.Unavailable:
		code = codes.Unavailable
		headers = append(headers, overwrite("retry-after", retryAfter))
	case authz.TooLarge:
		code = codes.InvalidArgument
	}
	httpCode := typev3.StatusCode(d.Outcome.HTTPStatus())
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: d.Description},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: httpCode},
			Headers: headers,
			Body:    string(d.Body()),
		}},
		DynamicMetadata: metadata(d),
	}
}

// overwrite sets a header, replacing any value the request had. append_action
// is honoured by newer Envoys; append is left unset, which older Envoys also
// read as overwrite (reference/envoy-ext-authz.md §3.3).
func overwrite(name, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: name, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// metadata is the decision as Envoy dynamic metadata, emitted under the
// namespace envoy.filters.http.ext_authz for access logs and RBAC. Its
// values are allocated together, in one slice of each kind.
func metadata(d *authz.Decision) *structpb.Struct {
	var m struct {
		s    structpb.Struct
		vals [maxMetadata]structpb.Value
		strs [maxMetadata]structpb.Value_StringValue
		num  structpb.Value_NumberValue
	}
	md := &m
	md.s.Fields = make(map[string]*structpb.Value, maxMetadata)
	n := 0
	put := func(k, v string) {
		if v != "" {
			md.strs[n].StringValue = v
			md.vals[n].Kind = &md.strs[n]
			md.s.Fields[k] = &md.vals[n]
			n++
		}
	}
	put("decision", d.Outcome.String())
	put("reason", string(d.Reason))
	put("policy", d.Policy)
	if d.Rule >= 0 && d.Outcome == authz.Allow {
		md.num.NumberValue = float64(d.Rule)
		md.vals[n].Kind = &md.num
		md.s.Fields["rule"] = &md.vals[n]
		n++
	}
	if c := d.Claims; c != nil {
		put("repository", c.Repository)
		put("ref", c.Ref)
		put("sha", c.SHA)
		put("run_id", c.RunID)
	}
	return &md.s
}

// maxMetadata is the number of dynamic metadata fields metadata can set.
const maxMetadata = 8
