package relay

import (
	"context"
	"sync"
	"testing"

	"github.com/hooktap/hooktap/relay/wire"
)

// An agent attaching in memory while the relay closes either runs and is
// waited for, or is turned away: its session never starts after Close has
// begun waiting (a WaitGroup Add racing Wait; -race reports it).
func TestAttachWhileClosing(t *testing.T) {
	for range 20 {
		srv, err := New(context.Background(), Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		ends := make([]*wire.Conn, 0, 8)
		for range 8 {
			relayEnd, agentEnd := wire.Pipe()
			ends = append(ends, agentEnd)
			wg.Go(func() { srv.Attach(relayEnd, "http://relay.test") })
		}
		srv.Close()
		wg.Wait()
		for _, e := range ends {
			e.Abort()
		}
	}
}
