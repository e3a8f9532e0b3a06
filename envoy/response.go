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

func allowResponse(d *authz.Decision) *authv3.CheckResponse {
	ok := &authv3.OkHttpResponse{
		Headers:         make([]*corev3.HeaderValueOption, 0, len(d.Set)),
		HeadersToRemove: d.Remove,
	}
	for _, h := range d.Set {
		if h.Value == "" {
			// Envoy cannot set an empty header; make sure a client's copy of it
			// does not reach the upstream either.
			ok.HeadersToRemove = append(ok.HeadersToRemove, h.Name)
			continue
		}
		ok.Headers = append(ok.Headers, overwrite(h.Name, h.Value))
	}
	return &authv3.CheckResponse{
		Status:          &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse:    &authv3.CheckResponse_OkResponse{OkResponse: ok},
		DynamicMetadata: metadata(d),
	}
}

func denyResponse(d *authz.Decision) *authv3.CheckResponse {
	code, httpCode := codes.PermissionDenied, typev3.StatusCode_Forbidden
	headers := []*corev3.HeaderValueOption{overwrite("content-type", "application/json")}
	switch d.Outcome {
	case authz.Unauthenticated:
		code, httpCode = codes.Unauthenticated, typev3.StatusCode_Unauthorized
		headers = append(headers, overwrite("www-authenticate", d.WWWAuthenticate()))
	case authz.Unavailable:
		code, httpCode = codes.Unavailable, typev3.StatusCode_ServiceUnavailable
		headers = append(headers, overwrite("retry-after", retryAfter))
	}
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
// namespace envoy.filters.http.ext_authz for access logs and RBAC.
func metadata(d *authz.Decision) *structpb.Struct {
	f := make(map[string]*structpb.Value, 8)
	f["decision"] = structpb.NewStringValue(d.Outcome.String())
	f["reason"] = structpb.NewStringValue(string(d.Reason))
	if d.Policy != "" {
		f["policy"] = structpb.NewStringValue(d.Policy)
	}
	if d.Rule >= 0 && d.Outcome == authz.Allow {
		f["rule"] = structpb.NewNumberValue(float64(d.Rule))
	}
	if c := d.Claims; c != nil {
		put := func(k, v string) {
			if v != "" {
				f[k] = structpb.NewStringValue(v)
			}
		}
		put("repository", c.Repository)
		put("ref", c.Ref)
		put("sha", c.SHA)
		put("run_id", c.RunID)
	}
	return &structpb.Struct{Fields: f}
}
