// Package claims verifies GitHub Actions OIDC ID tokens and exposes their claims.
//
// A Verifier trusts one or more issuers, each with its own JSON Web Key Set
// (discovered, fetched from an explicit URL, or read from a file), and turns a
// raw token into a typed Claims value only when the signature, algorithm,
// issuer, audience and time claims all check out. The package knows nothing
// about policies, HTTP front doors or Envoy.
package claims

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is a verified GitHub Actions OIDC token: the registered JWT claims
// and every claim GitHub documents. GitHub encodes all of its own claims as
// JSON strings, IDs and booleans included, and so does this struct.
type Claims struct {
	jwt.RegisteredClaims

	Actor                string `json:"actor,omitempty"`
	ActorID              string `json:"actor_id,omitempty"`
	BaseRef              string `json:"base_ref,omitempty"`
	CheckRunID           string `json:"check_run_id,omitempty"`
	Enterprise           string `json:"enterprise,omitempty"`
	EnterpriseID         string `json:"enterprise_id,omitempty"`
	Environment          string `json:"environment,omitempty"`
	EnvironmentNodeID    string `json:"environment_node_id,omitempty"`
	EventName            string `json:"event_name,omitempty"`
	HeadRef              string `json:"head_ref,omitempty"`
	IssuerScope          string `json:"issuer_scope,omitempty"`
	JobWorkflowRef       string `json:"job_workflow_ref,omitempty"`
	JobWorkflowSHA       string `json:"job_workflow_sha,omitempty"`
	Ref                  string `json:"ref,omitempty"`
	RefProtected         string `json:"ref_protected,omitempty"`
	RefType              string `json:"ref_type,omitempty"`
	Repository           string `json:"repository,omitempty"`
	RepositoryID         string `json:"repository_id,omitempty"`
	RepositoryOwner      string `json:"repository_owner,omitempty"`
	RepositoryOwnerID    string `json:"repository_owner_id,omitempty"`
	RepositoryVisibility string `json:"repository_visibility,omitempty"`
	RunAttempt           string `json:"run_attempt,omitempty"`
	RunID                string `json:"run_id,omitempty"`
	RunNumber            string `json:"run_number,omitempty"`
	RunnerEnvironment    string `json:"runner_environment,omitempty"`
	SHA                  string `json:"sha,omitempty"`
	Workflow             string `json:"workflow,omitempty"`
	WorkflowRef          string `json:"workflow_ref,omitempty"`
	WorkflowSHA          string `json:"workflow_sha,omitempty"`

	// Extra holds every other claim of the token: repo_property_* claims
	// (repository custom properties) and claims GitHub adds that have no
	// field here. Policies may name them; see Extra.Values for how their
	// JSON values compare.
	Extra Extra `json:"-"`
}

// UnmarshalJSON decodes a JSON object of claims, as encoding/json would,
// and then refuses registered claims of the wrong JSON type, where
// golang-jwt is lenient: exp, nbf and iat must be JSON numbers (RFC 7519
// NumericDate; jwt would take a quoted number), iss and sub strings, and aud
// a string or an array of strings. An explicit null is the wrong type for
// each of them (jwt would read it as absent); an absent claim is left to the
// checks that require it. The registered claims are matched as
// encoding/json matches them (case is folded), and every key that folds to
// one of them is checked, so the type checked is the one of the value
// decoded. Every other claim that no field takes is kept in Extra.
func (c *Claims) UnmarshalJSON(data []byte) error {
	type plain Claims // without this method
	if err := json.Unmarshal(data, (*plain)(c)); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	var extra map[string]json.RawMessage
	for name, v := range all {
		for _, f := range registeredTypes {
			// encoding/json hands a RawMessage the value without
			// surrounding whitespace.
			if strings.EqualFold(name, f.name) && (len(v) == 0 || !f.ok(v[0])) {
				kind := "nothing"
				if len(v) > 0 {
					kind = jsonKind(v[0])
				}
				return fmt.Errorf("claim %q must be a JSON %s, not %s", f.name, f.want, kind)
			}
		}
		if knownName(name) {
			continue
		}
		if extra == nil {
			extra = make(map[string]json.RawMessage)
		}
		extra[name] = v
	}
	// Each element of an aud array is a string: jwt.ClaimStrings refused
	// any other element above.
	x, err := newExtra(extra)
	if err != nil {
		return err
	}
	c.Extra = x
	return nil
}

// registeredTypes are the JSON types the registered claims must have.
var registeredTypes = []struct {
	name string
	ok   func(byte) bool
	want string
}{
	{"iss", isJSONString, "string"},
	{"sub", isJSONString, "string"},
	{"aud", func(b byte) bool { return b == '"' || b == '[' }, "string or an array of strings"},
	{"exp", isJSONNumber, "number"},
	{"nbf", isJSONNumber, "number"},
	{"iat", isJSONNumber, "number"},
}

// knownName reports whether a field of Claims takes the claim with this
// name, as encoding/json matches names to fields: exactly, or folding case.
func knownName(name string) bool {
	if _, ok := fieldByName[name]; ok || name == "exp" || name == "nbf" || name == "iat" {
		return true
	}
	for _, k := range fieldNames[FieldIssuer:] {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

func isJSONString(b byte) bool { return b == '"' }

func isJSONNumber(b byte) bool { return b == '-' || '0' <= b && b <= '9' }

// jsonKind names the JSON type of a value from its first byte.
func jsonKind(b byte) string {
	switch b {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// Field names one claim. Policies resolve claim names to a Field once, at
// load, so that the request path reads a claim without a map or reflection.
type Field uint8

// The claims a policy may name. FieldInvalid is the zero value and names none.
const (
	FieldInvalid Field = iota
	FieldIssuer
	FieldSubject
	FieldAudience
	FieldJTI
	FieldActor
	FieldActorID
	FieldBaseRef
	FieldCheckRunID
	FieldEnterprise
	FieldEnterpriseID
	FieldEnvironment
	FieldEnvironmentNodeID
	FieldEventName
	FieldHeadRef
	FieldIssuerScope
	FieldJobWorkflowRef
	FieldJobWorkflowSHA
	FieldRef
	FieldRefProtected
	FieldRefType
	FieldRepository
	FieldRepositoryID
	FieldRepositoryOwner
	FieldRepositoryOwnerID
	FieldRepositoryVisibility
	FieldRunAttempt
	FieldRunID
	FieldRunNumber
	FieldRunnerEnvironment
	FieldSHA
	FieldWorkflow
	FieldWorkflowRef
	FieldWorkflowSHA
	fieldCount
)

var fieldNames = [fieldCount]string{
	FieldIssuer:               "iss",
	FieldSubject:              "sub",
	FieldAudience:             "aud",
	FieldJTI:                  "jti",
	FieldActor:                "actor",
	FieldActorID:              "actor_id",
	FieldBaseRef:              "base_ref",
	FieldCheckRunID:           "check_run_id",
	FieldEnterprise:           "enterprise",
	FieldEnterpriseID:         "enterprise_id",
	FieldEnvironment:          "environment",
	FieldEnvironmentNodeID:    "environment_node_id",
	FieldEventName:            "event_name",
	FieldHeadRef:              "head_ref",
	FieldIssuerScope:          "issuer_scope",
	FieldJobWorkflowRef:       "job_workflow_ref",
	FieldJobWorkflowSHA:       "job_workflow_sha",
	FieldRef:                  "ref",
	FieldRefProtected:         "ref_protected",
	FieldRefType:              "ref_type",
	FieldRepository:           "repository",
	FieldRepositoryID:         "repository_id",
	FieldRepositoryOwner:      "repository_owner",
	FieldRepositoryOwnerID:    "repository_owner_id",
	FieldRepositoryVisibility: "repository_visibility",
	FieldRunAttempt:           "run_attempt",
	FieldRunID:                "run_id",
	FieldRunNumber:            "run_number",
	FieldRunnerEnvironment:    "runner_environment",
	FieldSHA:                  "sha",
	FieldWorkflow:             "workflow",
	FieldWorkflowRef:          "workflow_ref",
	FieldWorkflowSHA:          "workflow_sha",
}

var fieldByName = func() map[string]Field {
	m := make(map[string]Field, fieldCount)
	for f := FieldIssuer; f < fieldCount; f++ {
		m[fieldNames[f]] = f
	}
	return m
}()

// LookupField returns the Field for a claim name as it appears in the token
// ("repository_owner_id"), and false for a name GitHub does not document.
func LookupField(name string) (Field, bool) {
	f, ok := fieldByName[name]
	return f, ok
}

// String returns the claim name of f as it appears in the token.
func (f Field) String() string {
	if f == FieldInvalid || f >= fieldCount {
		return "invalid"
	}
	return fieldNames[f]
}

// Names returns every claim name a policy may use, in a fixed order.
func Names() []string {
	out := make([]string, 0, fieldCount-1)
	for f := FieldIssuer; f < fieldCount; f++ {
		out = append(out, fieldNames[f])
	}
	return out
}

// Value returns the string value of claim f. An absent claim and an empty
// one both return "". For "aud" it returns the first audience.
func (c *Claims) Value(f Field) string {
	if f == FieldAudience {
		if len(c.Audience) > 0 {
			return c.Audience[0]
		}
		return ""
	}
	if p := c.str(f); p != nil {
		return *p
	}
	return ""
}

// str returns the string field of c that holds claim f, or nil for the
// audience (a list) and an invalid f.
func (c *Claims) str(f Field) *string {
	if f >= fieldCount || fieldOffsets[f] < 0 {
		return nil
	}
	return (*string)(unsafe.Add(unsafe.Pointer(c), fieldOffsets[f]))
}

// fieldOffsets is where each string claim lives in a Claims, found once by
// its json tag, so that the fields and fieldNames stay the only list of
// claims: Value and the cache's encodings (cache.go) go through it. -1
// means none: the audience, and FieldInvalid.
var fieldOffsets = func() [fieldCount]int {
	var offs [fieldCount]int
	for f := range offs {
		offs[f] = -1
	}
	for _, sf := range reflect.VisibleFields(reflect.TypeFor[Claims]()) {
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		f, ok := fieldByName[name]
		if !ok || sf.Type.Kind() != reflect.String {
			continue
		}
		t, off := reflect.TypeFor[Claims](), uintptr(0)
		for _, i := range sf.Index {
			off += t.Field(i).Offset
			t = t.Field(i).Type
		}
		offs[f] = int(off)
	}
	for f := FieldIssuer; f < fieldCount; f++ {
		if offs[f] < 0 && f != FieldAudience {
			panic("claims: no string field for claim " + fieldNames[f])
		}
	}
	return offs
}()

// Get returns the value of the claim with the given name and whether it is
// present (known and non-empty).
func (c *Claims) Get(name string) (string, bool) {
	f, ok := LookupField(name)
	if !ok {
		return "", false
	}
	v := c.Value(f)
	return v, v != ""
}
