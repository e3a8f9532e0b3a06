package authz

import "strconv"

// Bounds on the headers of one request, the same in every front door. A
// front door counts the headers as it reads them, before it builds a
// Request, and answers HeadersTooLarge when they pass either bound, so that
// what a request costs stays bounded whatever a client sends. Both are far
// above what real requests carry and above Envoy's own defaults
// (max_headers_count 100, max_request_headers_kb 60).
const (
	// MaxHeaders bounds the header fields of a request: each copy of a
	// repeated header counts, and so do pseudo-headers (:path, ...).
	MaxHeaders = 1000
	// MaxHeaderBytes bounds the length of their names and values, summed.
	MaxHeaderBytes = 128 << 10
)

// ReasonHeadersTooLarge is the reason of a TooLarge decision: the request has
// more than MaxHeaders header fields, or more than MaxHeaderBytes of them.
const ReasonHeadersTooLarge Reason = "headers_too_large"

// headersTooLarge is the Description of a TooLarge decision.
var headersTooLarge = "the request has more than " + strconv.Itoa(MaxHeaders) + " header fields or more than " +
	strconv.Itoa(MaxHeaderBytes>>10) + " KiB of them"

// HeadersFit reports whether a request of n header fields whose names and
// values add up to size bytes is within MaxHeaders and MaxHeaderBytes.
func HeadersFit(n, size int) bool {
	return n <= MaxHeaders && size <= MaxHeaderBytes
}

// HeadersTooLarge returns the decision for a request whose headers do not
// fit (HeadersFit): TooLarge, answered with 431 before any policy is
// selected or any token read.
func HeadersTooLarge() Decision {
	return Decision{Outcome: TooLarge, Reason: ReasonHeadersTooLarge, Description: headersTooLarge, Rule: -1}
}
