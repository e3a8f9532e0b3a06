package claims

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mustExtra returns the Extra of claims given as JSON text by name.
func mustExtra(t testing.TB, claims map[string]string) Extra {
	t.Helper()
	raw := make(map[string]json.RawMessage, len(claims))
	for name, v := range claims {
		raw[name] = json.RawMessage(v)
	}
	x, err := NewExtra(raw)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestExtraValues(t *testing.T) {
	tests := []struct {
		name, claim, json string
		want              []string
	}{
		{"string", "team", `"platform"`, []string{"platform"}},
		{"string with a comma is one value outside repo_property_", "note", `"a,b"`, []string{"a,b"}},
		{"single-select property", "repo_property_env_tier", `"production"`, []string{"production"}},
		{"multi-select property: whole and parts", "repo_property_regions", `"us-east-1,eu-west-1"`,
			[]string{"us-east-1,eu-west-1", "us-east-1", "eu-west-1"}},
		{"empty parts dropped", "repo_property_regions", `",a,,b,"`, []string{",a,,b,", "a", "b"}},
		{"true/false property", "repo_property_pci", `"true"`, []string{"true"}},
		{"JSON boolean", "flag", `true`, []string{"true"}},
		{"JSON false", "flag", `false`, []string{"false"}},
		{"number as written", "n", `1.50`, []string{"1.50"}},
		{"integer", "n", `42`, []string{"42"}},
		{"array: each scalar item, no comma split", "repo_property_regions", `["us-east-1", "a,b", true, 7, null, {"x":1}, ["y"], ""]`,
			[]string{"us-east-1", "a,b", "true", "7"}},
		{"escaped string", "s", `"caf\u00e9"`, []string{"café"}},
		{"empty string: no value", "s", `""`, nil},
		{"null: no value", "s", `null`, nil},
		{"object: no value", "s", `{"a":"b"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := mustExtra(t, map[string]string{tt.claim: tt.json, "zz_other": `"x"`})
			if diff := cmp.Diff(tt.want, x.Values(tt.claim, nil)); diff != "" {
				t.Errorf("Values (-want +got):\n%s", diff)
			}
			if got := x.Values("absent", nil); got != nil {
				t.Errorf("Values of an absent claim = %q", got)
			}
			if _, ok := x.JSON(tt.claim); !ok {
				t.Error("JSON: claim not found")
			}
		})
	}
}

func TestUnmarshalKeepsExtraClaims(t *testing.T) {
	data := `{"iss":"https://x","sub":"s","aud":["a","b"],"exp":2,"iat":1,"repository":"o/r",
		"REPOSITORY_ID":"7","repo_property_team":"platform","repo_property_regions":"us,eu",
		"check_run_v2":  [ "x" , 1 ],"flag":true}`
	var c Claims
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		t.Fatal(err)
	}
	if c.RepositoryID != "7" {
		t.Errorf("RepositoryID = %q: encoding/json folds case", c.RepositoryID)
	}
	if diff := cmp.Diff([]string{"check_run_v2", "flag", "repo_property_regions", "repo_property_team"}, c.Extra.Names()); diff != "" {
		t.Errorf("Extra names (-want +got):\n%s", diff)
	}
	if got, _ := c.Extra.JSON("check_run_v2"); got != `["x",1]` {
		t.Errorf("JSON kept as %s, want it compact", got)
	}
	var none Claims
	if err := json.Unmarshal([]byte(`{"iss":"https://x","repository":"o/r"}`), &none); err != nil {
		t.Fatal(err)
	}
	if !none.Extra.IsZero() {
		t.Errorf("Extra = %q, want none", none.Extra.Names())
	}
}

func TestUnmarshalRefusesEveryFoldOfARegisteredClaim(t *testing.T) {
	for _, data := range []string{
		`{"iss":"https://x","ISS":5}`,
		`{"exp":1,"Exp":"2"}`,
		`{"aud":null}`,
	} {
		var c Claims
		if err := json.Unmarshal([]byte(data), &c); err == nil {
			t.Errorf("%s: accepted", data)
		}
	}
}

func TestNewExtraRefusesKnownClaims(t *testing.T) {
	for _, name := range []string{"repository", "Repository", "exp", "jti"} {
		if _, err := NewExtra(map[string]json.RawMessage{name: json.RawMessage(`"x"`)}); err == nil {
			t.Errorf("NewExtra accepted %q", name)
		}
	}
}

func TestExtraValuesDoesNotAllocate(t *testing.T) {
	x := mustExtra(t, map[string]string{"repo_property_regions": `"us-east-1,eu-west-1"`, "a": `"b"`})
	var buf [8]string
	if n := testing.AllocsPerRun(100, func() { _ = x.Values("repo_property_regions", buf[:0]) }); n != 0 {
		t.Errorf("Values allocates %v times", n)
	}
}
