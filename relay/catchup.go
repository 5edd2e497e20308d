package relay

import (
	"context"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/relay/payload"
	"github.com/hooktap/hooktap/relay/wire"
)

// pageLen bounds the deliveries one read of the buffer returns;
// catchUpBytes, their bytes.
const pageLen = 128

// catchUp sends everything in the buffer after sentSeq. It reports false when
// the session is over.
func (ss *session) catchUp(ctx context.Context) bool {
	buf := ss.srv.buf
	return ss.fromBuffer(ctx, func() ([]*wire.Delivery, bool, error) {
		// Deliveries are published while they are being committed: wait
		// for those, or a gap could be read as the end.
		if err := buf.Settled(ctx, ss.channel); err != nil {
			return nil, false, err
		}
		return buf.After(ctx, ss.channel, ss.sent(), pageLen, catchUpBytes)
	}, func(d *wire.Delivery, b *batch) bool {
		// Only what existed when the agent connected may have reached it
		// before; later deliveries are new to it.
		d.Resumed = d.Seq <= ss.resumeTo
		return ss.send(ctx, d, d.Fields.Action, wire.Size(d), b)
	})
}

// adoptUnclaimed sends the unclaimed deliveries up to the session's start
// that the agent's filter matches, before anything else: deliveries no
// agent took, which a new agent would otherwise never see. It reports
// false when the session is over.
func (ss *session) adoptUnclaimed(ctx context.Context) bool {
	after := int64(0)
	return ss.fromBuffer(ctx, func() ([]*wire.Delivery, bool, error) {
		return ss.srv.buf.Unclaimed(ctx, ss.channel, after, ss.adoptThrough, pageLen, catchUpBytes)
	}, func(d *wire.Delivery, b *batch) bool {
		after = d.Seq
		d.Resumed = true // it may have been this agent's before
		return !MatchEvents(ss.events, d.Fields.Action) || ss.enqueue(ctx, d, wire.Size(d), b, false)
	})
}

// fromBuffer reads pages of deliveries with read until it reports no
// more, and hands each delivery, its fields parsed, to each. What each
// puts in the batch is written at the end of every page. It reports false
// when the session is over.
func (ss *session) fromBuffer(ctx context.Context, read func() ([]*wire.Delivery, bool, error), each func(*wire.Delivery, *batch) bool) bool {
	var b batch
	defer b.reset()
	for {
		var ds []*wire.Delivery
		var more bool
		err := onFreshStack(func() (err error) {
			ds, more, err = read()
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				ss.srv.log.Error("read buffer", "channel", ss.channel, "err", err)
				ss.conn.Close(websocket.CloseInternalServerErr, "relay storage error")
			}
			return false
		}
		for _, d := range ds {
			f := payload.Parse(d.Header, d.Body)
			d.Fields = &f
			if !each(d, &b) {
				return false
			}
		}
		if !ss.flush(ctx, &b) {
			return false
		}
		if !more {
			return true
		}
	}
}
