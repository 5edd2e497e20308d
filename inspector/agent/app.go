package agent

import (
	"context"
	"time"

	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
)

// appCheckEvery is how often the agent dials the app to see whether it
// listens: soon enough that the UIs turn green within seconds of the app
// coming up, and one TCP handshake each time.
const appCheckEvery = 3 * time.Second

// watchApp checks the app every cfg.AppCheckEvery until ctx ends (Run
// checks once first). Real forwards tell their outcome in between
// (noteForward).
func (a *Agent) watchApp(ctx context.Context) {
	t := time.NewTicker(a.cfg.AppCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.checkApp(ctx)
		}
	}
}

func (a *Agent) checkApp(ctx context.Context) {
	a.publishAnswers()
	err := a.cfg.Forwarder.Probe(ctx)
	if ctx.Err() != nil {
		return // a check cut short says nothing of the app
	}
	if err != nil {
		a.setApp(false, err.Error())
		return
	}
	a.setApp(true, "")
}

// noteForward takes what a forward learnt of the app: an answer means it
// listens, a refused connection that nothing does. Timeouts and other
// failures say nothing about listening, nor does a forward that a route
// sent to another host:port than --forward-to's (the answers of the last
// minute count every forward).
func (a *Agent) noteForward(fw *forward.Forwarder, att *store.Attempt) {
	a.appMu.Lock()
	a.answers.add(time.Now(), att.Status)
	a.appMu.Unlock()
	switch {
	case fw != a.cfg.Forwarder && fw.Addr() != a.cfg.Forwarder.Addr(): // another app
	case att.Status > 0:
		a.setApp(true, "")
	case forward.AppDown(att):
		a.setApp(false, "connection refused")
	}
}

// setApp publishes the app's health when it changed.
func (a *Agent) setApp(listening bool, reason string) {
	a.appMu.Lock()
	defer a.appMu.Unlock()
	h := a.app
	if h.Checked && h.Listening == listening && h.Err == reason {
		return
	}
	if !h.Checked || h.Listening != listening {
		h.Since = time.Now()
		a.log.Debug("app health", "listening", listening, "err", reason)
	}
	h.Target, h.Addr = a.cfg.Forwarder.Target(), a.cfg.Forwarder.Addr()
	h.Checked, h.Listening, h.Err = true, listening, reason
	h.LastStatus, h.LastAt, h.Forwards, h.Failures = a.answers.summary(time.Now())
	a.app = h
	a.emit(live.Event{Kind: live.EventApp, App: h}) // under appMu: in order
}

// publishAnswers publishes the app's answers of the last minute when they
// changed: at each check, not at each forward, so that a busy agent does
// not flood the UIs.
func (a *Agent) publishAnswers() {
	a.appMu.Lock()
	defer a.appMu.Unlock()
	h := a.app
	h.LastStatus, h.LastAt, h.Forwards, h.Failures = a.answers.summary(time.Now())
	if h == a.app || !h.Checked {
		return
	}
	a.app = h
	a.emit(live.Event{Kind: live.EventApp, App: h})
}

// answers counts the app's answers over the last minute, a second at a
// time.
type answers struct {
	secs       [60]struct{ sec, n, failed int64 }
	lastStatus int
	lastAt     time.Time
}

func (w *answers) add(now time.Time, status int) {
	sec := now.Unix()
	b := &w.secs[sec%60]
	if b.sec != sec {
		b.sec, b.n, b.failed = sec, 0, 0
	}
	b.n++
	if status < 200 || status > 299 {
		b.failed++
	}
	w.lastStatus, w.lastAt = status, now
}

func (w *answers) summary(now time.Time) (last int, at time.Time, n, failed int) {
	cut := now.Unix() - 60
	for _, b := range w.secs {
		if b.sec > cut {
			n += int(b.n)
			failed += int(b.failed)
		}
	}
	return w.lastStatus, w.lastAt, n, failed
}

// App is what the agent knows of the app's health.
func (a *Agent) App() live.AppHealth {
	a.appMu.Lock()
	defer a.appMu.Unlock()
	return a.app
}
