package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/hooktap/hooktap/inspector/store"
)

// TestReplayElsewhereShownApart: a replay to another target leaves the
// row's status that of its forward (204), and the list and the detail say
// where the last replay went, apart.
func TestReplayElsewhereShownApart(t *testing.T) {
	s := openStore(t)
	seed(t, s, 1, 1, "http://127.0.0.1:3000/webhooks") // status 204
	d := delivery(1)
	stored(t, s.AddAttempt(&store.Attempt{DeliveryID: d.ID, Kind: store.KindReplay, Target: "http://staging.example/hooks",
		StartedAt: d.ReceivedAt.Add(time.Minute), Duration: time.Millisecond, Status: 500}))
	m := newModel(context.Background(), testOptions(s))
	defer m.Close()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(200, 30))
	const apart = "last: replay → http://staging.example/hooks 500"
	waitScreen(t, tm, "▸ 09:30:01  204", "2↪", apart)
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "replay → http://staging.example/hooks 500")
	tm.Send(keyMsg("tab"))
	waitScreen(t, tm, "204  forward")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	view := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).View()
	if !strings.Contains(view, apart+" (in attempts)") {
		t.Errorf("the response pane does not say where the last replay went:\n%s", view)
	}
}
