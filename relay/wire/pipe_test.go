package wire

import (
	"context"
	"errors"
	"testing"

	"github.com/gorilla/websocket"
)

// A Pipe hands messages over in order, the very ones sent, and a close
// reaches the other end after what was sent before it, with its code and
// reason, as a close frame would.
func TestPipe(t *testing.T) {
	a, b := Pipe()
	ctx := context.Background()
	sent := []Message{&Delivery{ID: "d1", Seq: 1}, &Delivery{ID: "d2", Seq: 2}}
	if err := a.SendAll(ctx, sent...); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, &Ack{ID: "d1", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	a.Close(websocket.CloseGoingAway, "agent shutting down")
	var got []Message
	err := b.Run(ctx, func(m Message) error { got = append(got, m); return nil })
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != "agent shutting down" {
		t.Errorf("Run returned %v, want the close code and reason", err)
	}
	if len(got) != 3 || got[0] != sent[0] || got[1] != sent[1] || got[2].(*Ack).ID != "d1" {
		t.Errorf("got %v", got)
	}
	if err := b.Send(ctx, &Ack{ID: "late"}); !errors.Is(err, ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
	if b.Alive(0) {
		t.Error("a closed pipe is alive")
	}
}
