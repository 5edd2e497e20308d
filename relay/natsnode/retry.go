package natsnode

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// retryingJS is the JetStream a Node hands out: creating a stream or a KV
// bucket is retried when its answer does not come. When several nodes
// create the same one at once (every node at cluster start), NATS v2.15.2
// may take a request and never answer it (nats-io/nats.go#949,
// nats-io/nats-server#3677); asked again, it answers. Any other error is
// returned at once.
type retryingJS struct{ jetstream.JetStream }

func (j retryingJS) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (s jetstream.Stream, err error) {
	err = retryTimeouts(ctx, func(ctx context.Context) error { s, err = j.JetStream.CreateStream(ctx, cfg); return err })
	return s, err
}

func (j retryingJS) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (s jetstream.Stream, err error) {
	err = retryTimeouts(ctx, func(ctx context.Context) error { s, err = j.JetStream.CreateOrUpdateStream(ctx, cfg); return err })
	return s, err
}

func (j retryingJS) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (kv jetstream.KeyValue, err error) {
	err = retryTimeouts(ctx, func(ctx context.Context) error { kv, err = j.JetStream.CreateKeyValue(ctx, cfg); return err })
	return kv, err
}

func (j retryingJS) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (kv jetstream.KeyValue, err error) {
	err = retryTimeouts(ctx, func(ctx context.Context) error { kv, err = j.JetStream.CreateOrUpdateKeyValue(ctx, cfg); return err })
	return kv, err
}

// createAttempt bounds one attempt of a create: an R3 create answers in
// milliseconds on a healthy cluster, and a slower one asked again is
// answered as the same create (they are idempotent).
const createAttempt = time.Second

// retryTimeouts calls f with a deadline of its own until it succeeds, fails
// otherwise than by that deadline or a peer still joining, or ctx ends.
func retryTimeouts(ctx context.Context, f func(context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, createAttempt)
		err := f(actx)
		cancel()
		timedOut := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
		if err == nil || !(timedOut || noPeersYet(err)) || ctx.Err() != nil {
			return err
		}
		if !timedOut {
			select { // the peer's join takes a moment: do not spin
			case <-ctx.Done():
				return err
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// noPeersYet reports whether err is NATS saying that it cannot place the
// replicas yet ("no suitable peers for placement, peer offline"): at
// cluster start, a node whose peers are still joining gets it, and seconds
// later the same create succeeds.
func noPeersYet(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsClusterNoPeers
}

// jsClusterNoPeers is nats-server's JSClusterNoPeersErrF.
const jsClusterNoPeers = 10005
