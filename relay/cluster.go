package relay

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooktap/hooktap/relay/natsnode"
	"github.com/hooktap/hooktap/relay/page"
	"github.com/hooktap/hooktap/relay/payload"
	"github.com/hooktap/hooktap/relay/wire"
)

// A relay node of a cluster keeps its deliveries in the JetStream stream
// HOOKTAP_DELIVERIES, one subject per channel (streamlog.go), and hears
// the other nodes on plain NATS subjects (signals.go):
//
//   - The stream republishes every delivery it stores on hooktap.live.<channel>;
//     each node has one subscription to all of them and offers each one to
//     its own sessions, as a single relay does when it takes one in. No
//     consumer per agent: catching up reads the stream from the agent's
//     cursor.
//   - An agent's answer goes to the node whose sender waits for it, on the
//     subject in the delivery's Hooktap-Reply header.
//   - What a node shows on its channel pages it publishes on
//     hooktap.page.<channel>, so that every node's page shows the cluster's.
const (
	liveSubjects   = "hooktap.live.>"
	answerPrefix   = "hooktap.answer."
	answerAll      = answerPrefix + "all" // for answers whose node is unknown
	pagePrefix     = "hooktap.page."
	clusterTimeout = 10 * time.Second // for the cluster's answers while a node starts
)

// joinCluster makes s a node of node's cluster: its deliveries, cursors,
// claims and presence live in JetStream from now on.
func (s *Server) joinCluster(ctx context.Context, node *natsnode.Node) error {
	if max := node.Conn.MaxPayload(); max < s.frameLimit {
		return fmt.Errorf("NATS takes messages up to %d bytes, and one delivery of --max-body %d needs %d: raise the servers' max_payload", max, s.cfg.MaxBody, s.frameLimit)
	}
	// A node that starts while the cluster elects leaders (another node
	// died or restarted just now) finds its streams and buckets without
	// one for a few seconds: every write fails at once. It tries again
	// meanwhile, answering "starting" (Starting).
	ctx, cancel := context.WithTimeout(ctx, joinWait)
	defer cancel()
	for said := false; ; {
		err := s.joinOnce(ctx, node)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if !said {
			s.log.Warn("cluster not ready for this node yet; retrying", "err", err)
			said = true
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// joinWait bounds how long a node tries to join its cluster.
const joinWait = time.Minute

func (s *Server) joinOnce(ctx context.Context, node *natsnode.Node) error {
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	reply := answerPrefix + newNodeID()
	s.writes = newStoring(s.log) // before the heartbeats start
	// What an agent of another node left is offered as when one of this
	// node leaves.
	lg, err := openStreamLog(ctx, node, s.cfg, reply, s.offerLeftovers)
	if err != nil {
		return err
	}
	sig, err := openSignals(ctx, node, s, reply)
	if err != nil {
		lg.Close()
		return err
	}
	s.store, s.signals = lg, sig
	s.log.Info("relay node joined the cluster", "node", node.Name, "stream", streamName, "replicas", node.Replicas)
	return nil
}

// newNodeID names one run of a node in subjects: unique, and made of
// characters a subject takes whatever the node's name is.
func newNodeID() string { return strings.ToLower(rand.Text()[:16]) }

// onLive offers a delivery the stream republished to this node's sessions
// of its channel.
func (s *Server) onLive(m *nats.Msg) {
	channel := channelOfKey(strings.TrimPrefix(m.Subject, "hooktap.live."))
	s.mu.Lock()
	ch := s.channels[channel]
	s.mu.Unlock()
	if ch == nil {
		return // nobody here listens to it
	}
	d, err := decodeDelivery(channel, m.Header, m.Data)
	if err != nil {
		s.log.Warn("bad delivery in the stream", "channel", channel, "err", err)
		return
	}
	seq, _ := parseUint(m.Header.Get(jetstream.SequenceHeader))
	prev, _ := parseUint(m.Header.Get("Nats-Last-Sequence"))
	d.Seq = seq
	f := payload.Parse(d.Header, d.Body)
	d.Fields = &f
	s.offerAll(item{d: d, ev: EventOf(&f), size: wire.Size(d), prev: prev, reply: m.Header.Get(headerReply)})
}

// onAnswer hands an agent's answer from another node to the sender here.
func (s *Server) onAnswer(m *nats.Msg) {
	if m.Header.Get(headerRelease) != "" {
		s.release(string(m.Data))
		return
	}
	msg, err := wire.Decode(m.Data)
	if a, ok := msg.(*wire.Ack); ok && err == nil {
		s.resolve(a)
	}
}

// onCopyCheck answers another node's askOwner: whether this node's
// connection of the agent is of another run than the one asking, and
// answers a ping (at most copyCheck: on a goroutine of its own, so that
// other questions are not held up).
func (s *Server) onCopyCheck(m *nats.Msg) {
	var q copyQuestion
	if json.Unmarshal(m.Data, &q) != nil {
		return
	}
	go func() {
		a := "gone"
		if s.otherRunAnswers(q.Channel, q.Agent, q.Instance) {
			a = copyAnswers
		}
		m.Respond([]byte(a))
	}()
}

// onPage adds what another node's channel page shows to this one's.
func (s *Server) onPage(m *nats.Msg) {
	var it page.Item
	if json.Unmarshal(m.Data, &it) == nil {
		s.feed.add(channelOfKey(strings.TrimPrefix(m.Subject, pagePrefix)), it)
	}
}

// showOnPage shows what ingress answered on the channel page of every node.
func (s *Server) showOnPage(channel string, it page.Item) {
	if sig, ok := s.signals.(*natsSignals); ok {
		if b, err := json.Marshal(it); err == nil && sig.conn.Publish(pagePrefix+keyOfChannel(channel), b) == nil {
			return // every node, this one too, adds it (onPage)
		}
	}
	s.feed.add(channel, it)
}

// aloneInCluster reports whether no agent of ss's channel but ss's is
// connected to any node (always, on a single relay).
func (s *Server) aloneInCluster(ss *session) bool {
	if s.signals == nil {
		return true
	}
	for id := range s.signals.Agents(ss.channel) {
		if id != ss.agentID {
			return false
		}
	}
	return true
}

// noAnswer is the reply of a delivery whose sender no longer waits.
const noAnswer = "-"

// answerTo is where the answer to a delivery read from the log goes: the
// nodes do not know which of them took it in (""), unless its sender has
// stopped waiting.
func (s *Server) answerTo(d *wire.Delivery) string {
	if time.Since(d.ReceivedAt) > s.cfg.ResponseTimeout+time.Second {
		return noAnswer
	}
	return ""
}

// expectWrite tells the single relay's buffer writer that n more appends
// (n < 0: fewer) are on their way, so that it commits them together.
func (s *Server) expectWrite(n int) {
	if s.signals == nil {
		s.buf.Expect(n)
	}
}
