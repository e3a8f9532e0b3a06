package devissuer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxBodyBytes bounds a /token request body.
const maxBodyBytes = 64 << 10

// Handler returns the HTTP handler of the issuer. Below the path of URL() it
// serves:
//
//	GET  /.well-known/openid-configuration  the discovery document
//	GET  /.well-known/jwks                  the JWKS (see JWKS)
//	POST /token                             mint a token (see Mint)
//	GET  /token                             the same, with the claims as query parameters
//
// A POST body is a JSON object of claims, as for Mint: strings, numbers or
// booleans; null removes a claim; "aud" may be a string or an array;
// "lifetime" is in seconds. An empty body mints the defaults. Bodies over
// 64 KiB are refused with 413. With GET, every query parameter is a string
// claim (or "lifetime"), "aud" may repeat, and a claim cannot be removed.
//
// The response is {"token":"…","claims":{…}} as application/json, or the bare
// token as text/plain when the query has format=raw:
//
//	TOKEN=$(curl -fsS -d '{"environment":"production"}' "$ISSUER/token?format=raw")
//
// Other methods get 405, unknown paths 404, and bad requests 400 with a JSON
// {"error":"…"} body.
func (iss *Issuer) Handler() http.Handler { return iss.handler }

func (iss *Issuer) newHandler(prefix string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/.well-known/openid-configuration", iss.serveDiscovery)
	mux.HandleFunc("GET "+prefix+"/.well-known/jwks", iss.serveJWKS)
	mux.HandleFunc("GET "+prefix+"/token", iss.serveToken)
	mux.HandleFunc("POST "+prefix+"/token", iss.serveToken)
	return mux
}

func (iss *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, iss.discovery)
}

func (iss *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	iss.mu.RLock()
	jwks := iss.jwks // never modified in place
	iss.mu.RUnlock()
	writeJSON(w, http.StatusOK, jwks)
}

func (iss *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	raw := false
	switch f := query.Get("format"); f {
	case "", "json":
	case "raw":
		raw = true
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format %q: want json or raw", f))
		return
	}

	var req map[string]any
	var err error
	status := http.StatusBadRequest
	if r.Method == http.MethodPost {
		req, status, err = readBody(w, r)
	} else {
		req, err = queryClaims(query)
	}
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	payload, err := iss.payload(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	token, err := iss.sign(nil, payload)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}

	w.Header().Set("Cache-Control", "no-store")
	if raw {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, token)
		return
	}
	body, err := json.Marshal(struct {
		Token  string         `json:"token"`
		Claims map[string]any `json:"claims"`
	}{token, payload})
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// readBody decodes a POST body: one JSON object, or nothing. On failure it
// returns the status to answer with.
func readBody(w http.ResponseWriter, r *http.Request) (map[string]any, int, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.UseNumber() // keep large IDs exact
	var req map[string]any
	err := dec.Decode(&req)
	if errors.Is(err, io.EOF) {
		return nil, 0, nil
	}
	if err == nil {
		// Anything after the object is an error too.
		if err = dec.Decode(new(json.RawMessage)); err == nil {
			err = errors.New("more than one JSON value")
		} else if errors.Is(err, io.EOF) {
			return req, 0, nil
		}
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", maxBodyBytes)
	}
	return nil, http.StatusBadRequest, fmt.Errorf("body: want a JSON object of claims: %w", err)
}

// queryClaims turns GET query parameters into claims.
func queryClaims(q url.Values) (map[string]any, error) {
	req := make(map[string]any, len(q))
	for name, vs := range q {
		switch {
		case name == "format":
		case name == "aud" && len(vs) > 1:
			req[name] = vs
		case strings.HasPrefix(name, propertyPrefix) && len(vs) > 1:
			req[name] = vs // the options of a multi-select property
		case name == "lifetime":
			if len(vs) > 1 {
				return nil, errors.New(`query parameter "lifetime" given more than once`)
			}
			req[name] = json.Number(vs[0])
		case len(vs) > 1:
			return nil, fmt.Errorf("query parameter %q given more than once", name)
		default:
			req[name] = vs[0]
		}
	}
	return req, nil
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string]string{"error": msg}) // a map of strings always encodes
	writeJSON(w, status, body)
}
