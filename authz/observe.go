package authz

import (
	"context"
	"time"
)

// ObserveFunc is called by a front door once per decided request, with the
// request, its decision and the time the decision took. Decision logs and
// metrics are ObserveFuncs; every front door calls the same ones.
type ObserveFunc func(ctx context.Context, r *Request, d *Decision, elapsed time.Duration)
