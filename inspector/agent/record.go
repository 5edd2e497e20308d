package agent

import (
	"context"
	"time"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
)

// Backoff between tries to record a delivery that the store refused.
const (
	recordRetryMin = 100 * time.Millisecond
	recordRetryMax = 2 * time.Second
)

// retryRecord records d with its attempt att after the store failed to,
// until it succeeds (true) or the agent stops (false, after one last
// try). Record does both writes idempotently: it inserts d with att, or adds
// att to d when the slow path had inserted d already. Meanwhile the delivery
// stays un-acked, and no new one is forwarded.
func (a *Agent) retryRecord(j job, d *store.Delivery, att *store.Attempt) bool {
	// The room may be in the store's write-ahead logs: a failure that
	// reclaiming them cures at once is not worth stopping for.
	a.reclaim(time.Now())
	err := store.Wait(j.ctx, a.cfg.Store.Record(d, att))
	if err == nil {
		return true
	}
	failed := time.Now()
	a.recordFailed(j.stop, err)
	wait := recordRetryMin
	for {
		stopping := false
		select {
		case <-j.stop.Done():
			stopping = true
		case <-time.After(wait):
		}
		a.reclaim(failed)
		err = store.Wait(j.ctx, a.cfg.Store.Record(d, att))
		if err == nil {
			a.recordRetried(true)
			return true
		}
		failed = time.Now()
		if stopping {
			a.recordRetried(false)
			a.log.Warn("stopping with a delivery forwarded and not recorded: the relay sends it again", "id", d.ID, "err", err)
			return false
		}
		a.log.Debug("record delivery: retrying", "id", d.ID, "err", err, "in", wait)
		a.healthMu.Lock()
		a.health.Err = err.Error()
		a.healthMu.Unlock()
		wait = min(wait*2, recordRetryMax)
	}
}

// reclaim has the store reclaim space for a record that failed at failed,
// unless it has done so since: handlers that fail together reclaim once,
// and those that waited for it retry after it.
func (a *Agent) reclaim(failed time.Time) {
	a.reclaimMu.Lock()
	defer a.reclaimMu.Unlock()
	if a.reclaimed.After(failed) {
		return
	}
	if err := a.cfg.Store.Reclaim(context.Background()); err != nil {
		a.log.Debug("reclaim the store's write-ahead logs", "err", err)
	}
	a.reclaimed = time.Now()
}

// recordFailed counts a handler whose record failed. The first one stops
// forwarding and says so, once: in the log, and to the UIs until the store
// writes again.
func (a *Agent) recordFailed(stop context.Context, err error) {
	a.healthMu.Lock()
	defer a.healthMu.Unlock()
	a.failing++
	if a.failing > 1 {
		return
	}
	a.writable = make(chan struct{})
	a.health = live.StoreHealth{Err: err.Error(), Since: time.Now(), Waiting: int(a.outstanding.Load())}
	a.log.Error("the store cannot write: deliveries are held, un-acked, and recorded once it can; nothing new is forwarded meanwhile",
		"cause", a.health.Cause(), "db", a.cfg.Store.Path(), "err", err)
	a.emit(live.Event{Kind: live.EventStore, Store: a.health})
	go a.showWaiting(stop, a.writable)
}

// recordRetried ends a handler's retries: recorded, or given up as the agent
// stops. When the last one has recorded, forwarding resumes.
func (a *Agent) recordRetried(recorded bool) {
	a.healthMu.Lock()
	defer a.healthMu.Unlock()
	a.failing--
	if a.failing > 0 || !recorded {
		return // stopping: new deliveries stay held
	}
	close(a.writable)
	a.log.Warn("the store writes again: held deliveries are recorded and forwarding resumes",
		"after", time.Since(a.health.Since).Round(time.Second))
	a.health = live.StoreHealth{}
	a.emit(live.Event{Kind: live.EventStore, Store: a.health})
}

// showWaiting publishes, once a second while the store cannot write, how
// many deliveries wait, when that changed.
func (a *Agent) showWaiting(stop context.Context, writable <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-writable:
			return
		case <-stop.Done():
			return
		case <-t.C:
		}
		a.healthMu.Lock()
		if n := int(a.outstanding.Load()); a.writable == writable && n != a.health.Waiting {
			a.health.Waiting = n
			a.emit(live.Event{Kind: live.EventStore, Store: a.health})
		}
		a.healthMu.Unlock()
	}
}
