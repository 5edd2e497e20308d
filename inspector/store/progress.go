package store

import "context"

// Progress is told how far a long operation is: done of total units
// (deliveries). Export, ExportHAR, Prune and the full-text index's
// catching up call it when their context carries one (WithProgress).
type Progress func(done, total int64)

type progressKey struct{}

// WithProgress is ctx carrying p, for the operations of one command; the
// store's background work has none.
func WithProgress(ctx context.Context, p Progress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

// progressOf is ctx's Progress, or one that does nothing.
func progressOf(ctx context.Context) Progress {
	if p, ok := ctx.Value(progressKey{}).(Progress); ok && p != nil {
		return p
	}
	return func(int64, int64) {}
}

// hasProgress reports whether anyone listens, so that totals are counted
// only then.
func hasProgress(ctx context.Context) bool {
	p, ok := ctx.Value(progressKey{}).(Progress)
	return ok && p != nil
}
