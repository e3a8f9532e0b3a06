package claims

import (
	"crypto"
	"fmt"
	"strconv"
	"testing"
)

// TestVerifyRegisteredClaimTypes: a token whose exp, nbf or iat is not a
// JSON number, or whose iss, sub or an aud entry is not a JSON string, is
// refused as malformed, signed or not, whatever golang-jwt would tolerate
// (a quoted number as a date, null as an absent claim). The refusal does
// not depend on the cache: the same token is refused again, and never
// cached.
func TestVerifyRegisteredClaimTypes(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	now := clock.Now().Unix()
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	hdr := object{{"alg", q("RS256")}, {"kid", q(k1.kid)}, {"typ", q("JWT")}}
	pay := object{
		{"iss", q(gh.URL())}, {"aud", q(testAudience)},
		{"sub", q("repo:octo-org/octo-repo:ref:refs/heads/main")},
		{"iat", num(now)}, {"nbf", num(now - 300)}, {"exp", num(now + 300)},
		{"repository", q("octo-org/octo-repo")}, {"repository_owner_id", q("1234567")},
	}
	rs256 := rsaPKCS1(t, k1.key, crypto.SHA256)

	// Each claim's own value, written as the JSON of the wrong types; a
	// date as a quoted number is the string golang-jwt would accept.
	good := map[string]string{
		"iss": q(gh.URL()), "sub": q("repo:octo-org/octo-repo:ref:refs/heads/main"), "aud": q(testAudience),
		"exp": num(now + 300), "nbf": num(now - 300), "iat": num(now),
	}
	wrong := func(claim string) map[string]string {
		str := q("x")
		if claim == "exp" || claim == "nbf" || claim == "iat" {
			str = q(good[claim]) // the right date, quoted
		}
		return map[string]string{
			"string":  str,
			"number":  "1234567",
			"boolean": "true",
			"object":  `{"value":` + good[claim] + `}`,
			"null":    "null",
		}
	}
	type tcase struct {
		name  string
		token string
		want  Reason
	}
	var tests []tcase
	for _, claim := range []string{"exp", "nbf", "iat", "iss", "sub", "aud"} {
		for _, kind := range []string{"string", "number", "boolean", "object", "null"} {
			isDate := claim == "exp" || claim == "nbf" || claim == "iat"
			if (kind == "string") != isDate && (kind == "number") == isDate {
				continue // the right type: number for dates, string for the rest
			}
			raw := wrong(claim)[kind]
			tests = append(tests, tcase{fmt.Sprintf("%s %s", claim, kind), jws(hdr.String(), pay.set(claim, raw).String(), rs256), ReasonMalformed})
			if claim == "aud" {
				tests = append(tests, tcase{fmt.Sprintf("aud entry %s", kind),
					jws(hdr.String(), pay.set("aud", "["+q(testAudience)+","+raw+"]").String(), rs256), ReasonMalformed})
			}
		}
	}
	tests = append(tests,
		tcase{"valid", jws(hdr.String(), pay.String(), rs256), ""},
		tcase{"nbf absent", jws(hdr.String(), pay.del("nbf").String(), rs256), ""},
		tcase{"aud an array of strings", jws(hdr.String(), pay.set("aud", "["+q(testAudience)+`,"x"]`).String(), rs256), ""},
		tcase{"exp absent", jws(hdr.String(), pay.del("exp").String(), rs256), ReasonMissingClaim},
		tcase{"sub absent", jws(hdr.String(), pay.del("sub").String(), rs256), ReasonMissingClaim},
		// encoding/json folds the case of keys and keeps the last of
		// duplicates: the type checked is that of the value decoded.
		tcase{"EXP a quoted number", jws(hdr.String(), pay.del("exp").add("EXP", q(num(now+300))).String(), rs256), ReasonMalformed},
		tcase{"exp a string, then a number", jws(hdr.String(), pay.set("exp", q("x")).add("exp", num(now+300)).String(), rs256), ReasonMalformed},
		tcase{"exp a number, then null", jws(hdr.String(), pay.add("exp", "null").String(), rs256), ReasonMalformed},
		tcase{"exp a number, then a number", jws(hdr.String(), pay.set("exp", num(now+60)).add("exp", num(now+300)).String(), rs256), ""},
	)

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := v.CacheStats()
			for i := range 2 { // the second time, a cached token would be a hit
				_, err := v.Verify(t.Context(), tc.token)
				if got := ReasonOf(err); got != tc.want {
					t.Fatalf("Verify #%d: reason %q (%v), want %q", i+1, got, err, tc.want)
				}
			}
			hits, _ := cacheDelta(before, v.CacheStats())
			if wantHit := tc.want == ""; (hits == 1) != wantHit {
				t.Errorf("cache hits %d, want a hit %v", hits, wantHit)
			}
		})
	}
}
