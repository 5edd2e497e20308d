package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// leaderKV is a KV bucket whose Get asks its stream's leader. nats.go's Get
// is a direct get, which any replica answers from what it has applied, and
// nats-server (v2.15.2) lets a replica answer once it has synced at start,
// never turning that off: a replica frozen or cut off for a while answers
// the requests that waited for it as soon as it runs again, from its state
// of before. An outside tester saw it: a new agent bound while a node
// thawed after 30 s of SIGSTOP started at the channel's furthest cursor of
// 30 s before, and was sent hundreds of deliveries that another agent had
// acknowledged. Every Get of the cluster's buckets decides something
// (where an agent starts, whose id it is, a compare-and-set), so all go
// to the leader; watches stay as they are.
type leaderKV struct {
	jetstream.KeyValue
	nc *nats.Conn
}

func withLeaderGets(kv jetstream.KeyValue, js jetstream.JetStream) jetstream.KeyValue {
	return leaderKV{kv, js.Conn()}
}

// Get implements jetstream.KeyValue. A key whose last entry is a delete or
// purge marker is not found, as with nats.go's Get.
func (kv leaderKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, clusterTimeout)
		defer cancel()
	}
	bucket := kv.Bucket()
	req, _ := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{"$KV." + bucket + "." + key})
	msg, err := kv.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", bucket, err)
	}
	var resp struct {
		Error *jetstream.APIError `json:"error"`
		Msg   *struct {
			Seq    uint64    `json:"seq"`
			Header []byte    `json:"hdrs"`
			Data   []byte    `json:"data"`
			Time   time.Time `json:"time"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, fmt.Errorf("read %s: %w", bucket, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, jetstream.ErrKeyNotFound
	case resp.Error != nil:
		return nil, resp.Error
	case resp.Msg == nil:
		return nil, fmt.Errorf("read %s: %w", bucket, jetstream.ErrInvalidJetStreamResponse)
	}
	if len(resp.Msg.Header) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Msg.Header)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", bucket, err)
		}
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			return nil, jetstream.ErrKeyNotFound
		}
	}
	return kvEntry{bucket: bucket, key: key, value: resp.Msg.Data, rev: resp.Msg.Seq, created: resp.Msg.Time}, nil
}

// kvEntry is an entry read from a stream's leader.
type kvEntry struct {
	bucket, key string
	value       []byte
	rev         uint64
	created     time.Time
}

func (e kvEntry) Bucket() string                  { return e.bucket }
func (e kvEntry) Key() string                     { return e.key }
func (e kvEntry) Value() []byte                   { return e.value }
func (e kvEntry) Revision() uint64                { return e.rev }
func (e kvEntry) Created() time.Time              { return e.created }
func (e kvEntry) Delta() uint64                   { return 0 }
func (e kvEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }
