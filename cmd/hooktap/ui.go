package main

import (
	"context"
)

// useTUI reports whether the agent shows the terminal UI.
func useTUI(e *env, f *agentFlags) bool {
	return false // the terminal UI is not built yet
}

// runTUI runs the agent in the background and the terminal UI in front.
func runTUI(ctx context.Context, e *env, r *agentRun) error {
	return r.agent.Run(ctx)
}
