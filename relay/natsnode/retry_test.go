package natsnode

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestRetryWhilePeersJoin: a create that NATS cannot place yet (a peer of
// the cluster still joining: three nodes started at once) is tried again;
// another API error is returned at once.
func TestRetryWhilePeersJoin(t *testing.T) {
	noPeers := &jetstream.APIError{Code: 400, ErrorCode: jsClusterNoPeers, Description: "no suitable peers for placement, peer offline"}
	calls := 0
	err := retryTimeouts(t.Context(), func(context.Context) error {
		if calls++; calls < 3 {
			return noPeers
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls; want success on the third", err, calls)
	}
	other := &jetstream.APIError{Code: 400, ErrorCode: 10058, Description: "stream name already in use"}
	calls = 0
	if err := retryTimeouts(t.Context(), func(context.Context) error { calls++; return other }); err != other || calls != 1 {
		t.Fatalf("another error: %v after %d calls; want it at once", err, calls)
	}
}
