package agent

import (
	"context"
	"errors"
	"time"

	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay/wire"
)

// job is a delivery for a worker, with the session it came on.
type job struct {
	ctx      context.Context // the session's, which shutdown does not cancel
	stop     context.Context // ends when the agent is told to stop
	d        *wire.Delivery
	acks     *acker
	inflight *tracker
	received time.Time
	due      time.Time // when its sender stops waiting (zero: not said)
}

// queuedAfter is how long a delivery may wait here for its turn and still
// be forwarded as one whose sender waits.
const queuedAfter = 100 * time.Millisecond

// recordDelay is how long the agent waits for the app's answer before it
// records a delivery on its own.
const recordDelay = 20 * time.Millisecond

// drainTimeout bounds how long shutdown waits for deliveries in flight: the
// app's timeout and a little more.
const drainTimeout = forward.DefaultTimeout + 2*time.Second

// handle stores one delivery, forwards it, records the attempt and acks.
// Nothing is acked before both records are committed.
func (a *Agent) handle(j job) {
	ctx, acks, w := j.ctx, j.acks, j.d
	if !a.claim(j) {
		return
	}
	defer a.release(w.ID)
	if w.Resumed {
		// The relay may have sent it before we went away: if it was
		// forwarded already, answer with what the app said then.
		if prev, err := a.cfg.Store.Get(ctx, w.ID); err == nil && prev.ID == w.ID {
			if n := len(prev.History); n > 0 {
				acks.send(ctx, w, prev.History[n-1])
				return
			}
		}
	}
	if !a.mayForward(j) {
		return // not acked: the relay sends it again
	}
	d := store.FromWire(w)
	d.Verify(a.secretFor(d))
	a.emit(live.Event{Kind: live.EventReceived, Delivery: d.Summary()})

	// An app that answers within recordDelay gets the delivery and its
	// attempt written together, in one write; a slower one gets the
	// delivery recorded first, so that the UIs show it while it waits.
	inserted := make(chan (<-chan error), 1)
	a.cfg.Store.Expect(1)
	slow := time.AfterFunc(recordDelay, func() {
		a.cfg.Store.Expect(-1) // no longer soon
		inserted <- a.cfg.Store.Insert(d)
	})
	fw := forward.Pick(a.cfg.Routes, a.cfg.Forwarder, d.Action)
	req := forward.RequestOf(d)
	if time.Since(j.received) < queuedAfter {
		// Forwarded as it came: its sender waits, and hears the app's
		// timeout as a 504 only if the app gets no longer than that. One
		// that waited its turn here gets the app's full time: its sender
		// may have been told it is kept, and the app deserves its chance.
		req.Due = j.due
	}
	att := fw.Forward(ctx, req)
	att.DeliveryID, att.Kind = d.ID, store.KindForward
	a.noteForward(fw, att)
	var err error
	if slow.Stop() {
		a.cfg.Store.Expect(-1)
		err = store.Wait(ctx, a.cfg.Store.Record(d, att))
	} else {
		stored := <-inserted // submitted before the attempt: the writer keeps the order
		recorded := a.cfg.Store.AddAttempt(att)
		err = errors.Join(store.Wait(ctx, stored), store.Wait(ctx, recorded))
	}
	if err != nil && !a.retryRecord(j, d, att) {
		return // not acked: the relay sends it again after a reconnect
	}
	d.Status, d.Error, d.DurationMS, d.Target = att.Status, att.Error, att.DurationMS(), att.Target
	d.Attempts++
	a.emit(live.Event{Kind: live.EventAttempt, Delivery: d.Summary(), Attempt: att})
	acks.send(ctx, w, att)
}

// claim marks j's delivery as being handled, until release. A delivery
// that the relay sends again after a reconnect while its first copy is
// still being handled (its record retried, say) waits for that copy, and
// then finds it stored. It reports false if the agent stops or j's session
// ends first.
func (a *Agent) claim(j job) bool {
	id := j.d.ID
	for {
		a.handlingMu.Lock()
		busy, taken := a.handling[id]
		if !taken {
			a.handling[id] = nil
			a.handlingMu.Unlock()
			return true
		}
		if busy == nil {
			busy = make(chan struct{})
			a.handling[id] = busy
		}
		a.handlingMu.Unlock()
		select {
		case <-busy:
		case <-j.stop.Done():
			return false
		case <-j.acks.conn.Done():
			return false
		}
	}
}

// release ends claim, and wakes the copies waiting for it.
func (a *Agent) release(id string) {
	a.handlingMu.Lock()
	defer a.handlingMu.Unlock()
	if busy := a.handling[id]; busy != nil {
		close(busy)
	}
	delete(a.handling, id)
}

// mayForward reports whether j's delivery may be forwarded to the app. A
// delivery is forwarded only while the store writes: one forwarded and not
// recorded is forwarded again after a restart. So while the store cannot
// write, deliveries wait here un-acked (and the relay's window holds back
// the rest); once it writes again they go on. It reports false when j's
// session is over (the relay sends the delivery again on the next) or the
// agent stops first.
func (a *Agent) mayForward(j job) bool {
	select {
	case <-j.acks.conn.Done():
		return false // nobody to ack to
	default:
	}
	a.healthMu.Lock()
	writable := a.writable
	a.healthMu.Unlock()
	select {
	case <-writable:
		return true
	case <-j.stop.Done():
		return false
	case <-j.acks.conn.Done():
		return false
	}
}

// secretFor is the secret that verifies d.
func (a *Agent) secretFor(d *store.Delivery) string {
	// An unsigned delivery needs no secret: no lookup (in hooktap dev, a
	// query of the emulator's database per delivery).
	if a.cfg.SecretFor != nil && signing.Detect(d.Header) != nil {
		if s := a.cfg.SecretFor(d); s != "" {
			return s
		}
	}
	return a.cfg.Secret
}
