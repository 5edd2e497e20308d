package main

import (
	"context"
)

// startWeb serves the web inspector beside a running agent; stop shuts it
// down.
func startWeb(ctx context.Context, e *env, r *agentRun) (stop func(), err error) {
	return func() {}, nil // the web inspector is not built yet
}
