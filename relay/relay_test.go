package relay

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/relay/sqlitedb"
	"github.com/hooktap/hooktap/relay/wire"
)

func newRelay(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.DataDir = t.TempDir()
	srv, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		srv.Close()
	})
	return srv, ts
}

// fakeAgent is a hand-driven agent: the test reads and writes raw frames.
type fakeAgent struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialAgent(t *testing.T, ts *httptest.Server) *fakeAgent {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+AgentPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	return &fakeAgent{t, ws}
}

func (a *fakeAgent) send(m wire.Message) {
	a.t.Helper()
	b, err := wire.Encode(m)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		a.t.Fatal(err)
	}
}

func (a *fakeAgent) read() wire.Message {
	a.t.Helper()
	_, b, err := a.ws.ReadMessage()
	if err != nil {
		a.t.Fatalf("read: %v", err)
	}
	m, err := wire.Decode(b)
	if err != nil {
		a.t.Fatalf("decode: %v", err)
	}
	return m
}

func (a *fakeAgent) hello(channel, id string) *wire.Welcome {
	a.t.Helper()
	a.send(&wire.Hello{Channel: channel, AgentID: id, AgentKey: testKey(id)})
	w, ok := a.read().(*wire.Welcome)
	if !ok {
		a.t.Fatal("no welcome")
	}
	return w
}

func post(t *testing.T, url string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// postQuiet posts from a goroutine that may outlive the test.
func postQuiet(url string, body []byte) {
	resp, err := http.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err == nil {
		resp.Body.Close()
	}
}

func TestNoAgentKeepsAndAnswers202(t *testing.T) {
	srv, ts := newRelay(t, Config{})
	resp, body := post(t, ts.URL+"/h/team/billing?x=1", []byte(`{"action":"payable.created"}`))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got struct{ ID, Status string }
	json.Unmarshal(body, &got)
	if got.ID == "" || got.Status != "queued" || resp.Header.Get(HeaderDelivery) != got.ID {
		t.Fatalf("body %s", body)
	}
	ds, _, err := srv.Buffer().After(t.Context(), "team", 0, 10, 1<<20)
	if err != nil || len(ds) != 1 {
		t.Fatalf("buffer: %v %d", err, len(ds))
	}
	if d := ds[0]; d.ID != got.ID || d.Path != "/billing" || d.Query != "x=1" || string(d.Body) != `{"action":"payable.created"}` {
		t.Fatalf("buffered %+v", d)
	}

	// The first agent to connect gets what arrived while nobody listened.
	a := dialAgent(t, ts)
	a.hello("team", "agt_a")
	d, ok := a.read().(*wire.Delivery)
	if !ok || d.ID != got.ID || !d.Resumed {
		t.Fatalf("resumed delivery: %#v", d)
	}
}

func TestOfflineStatus503(t *testing.T) {
	srv, ts := newRelay(t, Config{OfflineStatus: http.StatusServiceUnavailable})
	resp, body := post(t, ts.URL+"/h/team", []byte(`{}`))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d %v: %s", resp.StatusCode, resp.Header, body)
	}
	// Not kept: the sender's retry is the copy that counts.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ds, _, _ := srv.Buffer().After(t.Context(), "team", 0, 10, 1<<20)
		if len(ds) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("503'd delivery still buffered")
		}
		srv.Buffer().w.Do(t.Context(), func(*sqlitedb.Tx) error { return nil }) // wait for the writer to catch up
	}
}

func TestOversizedBodyThenGoesOn(t *testing.T) {
	_, ts := newRelay(t, Config{MaxBody: 1024})
	resp, body := post(t, ts.URL+"/h/dev", bytes.Repeat([]byte("a"), 4096))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "larger than 1024") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	resp, _ = post(t, ts.URL+"/h/dev", []byte("small"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("after 413: status %d", resp.StatusCode)
	}
}

func TestBadChannel(t *testing.T) {
	_, ts := newRelay(t, Config{})
	resp, body := post(t, ts.URL+"/h/..%2f", []byte("x"))
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

func TestPassthroughFirstAgentAnswer(t *testing.T) {
	_, ts := newRelay(t, Config{})
	a := dialAgent(t, ts)
	if w := a.hello("dev", "agt_a"); w.URL != ts.URL+"/h/dev" {
		t.Fatalf("welcome url %q", w.URL)
	}
	type result struct {
		resp *http.Response
		body []byte
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("PUT", ts.URL+"/h/dev/a/b%2Fc?q=1&q=2", strings.NewReader("not json \x00\xff"))
		req.Header.Set("X-Custom", "v")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp, b}
	}()
	d, ok := a.read().(*wire.Delivery)
	if !ok {
		t.Fatal("no delivery")
	}
	if d.Method != "PUT" || d.Path != "/a/b%2Fc" || d.Query != "q=1&q=2" || string(d.Body) != "not json \x00\xff" ||
		d.Header.Get("X-Custom") != "v" || d.Resumed {
		t.Fatalf("delivery %+v", d)
	}
	a.send(&wire.Ack{ID: d.ID, Seq: d.Seq, Status: 418, Header: http.Header{"X-App": {"teapot"}}, Body: []byte("short and stout")})
	r := <-done
	if r.resp == nil || r.resp.StatusCode != 418 || r.resp.Header.Get("X-App") != "teapot" || string(r.body) != "short and stout" {
		t.Fatalf("sender got %+v %q", r.resp, r.body)
	}
	if r.resp.Header.Get("Content-Type") != "" {
		t.Fatalf("relay added a content type: %q", r.resp.Header.Get("Content-Type"))
	}

	// An ack with an error is a 502 for the sender.
	go func() {
		resp, err := http.Post(ts.URL+"/h/dev", "application/json", strings.NewReader(`{}`))
		if err != nil {
			done <- result{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp, b}
	}()
	d = a.read().(*wire.Delivery)
	a.send(&wire.Ack{ID: d.ID, Seq: d.Seq, Error: "connection refused"})
	r = <-done
	if r.resp == nil || r.resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(r.body), "connection refused") {
		t.Fatalf("sender got %d %q", r.resp.StatusCode, r.body)
	}
}

func TestGarbageFromFakeAgent(t *testing.T) {
	_, ts := newRelay(t, Config{})
	frames := []struct {
		typ  int
		data []byte
	}{
		{websocket.TextMessage, []byte("this is not json")},
		{websocket.TextMessage, []byte(`{"v":1,"type":"hello","data":{}}`)},
		{websocket.BinaryMessage, []byte{0, 1, 2}},
		{websocket.TextMessage, []byte(`{"v":1,"type":"ack","data":{"id":"x"}}`)}, // ack before hello
	}
	for _, f := range frames {
		a := dialAgent(t, ts)
		if err := a.ws.WriteMessage(f.typ, f.data); err != nil {
			t.Fatal(err)
		}
		// The relay answers with a close frame (maybe after an error
		// message) and a reason.
		var closeErr *websocket.CloseError
		for {
			_, _, err := a.ws.ReadMessage()
			if err == nil {
				continue
			}
			if ce, ok := err.(*websocket.CloseError); ok {
				closeErr = ce
			}
			break
		}
		if closeErr == nil || closeErr.Code == websocket.CloseNormalClosure {
			t.Errorf("frame %q: want a close frame with a reason, got %v", f.data, closeErr)
		}
	}
	// The relay goes on serving.
	a := dialAgent(t, ts)
	a.hello("dev", "agt_ok")
	resp, _ := http.Get(ts.URL + "/healthz")
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
}

func TestUnknownMessageTypeIsNotFatal(t *testing.T) {
	_, ts := newRelay(t, Config{})
	a := dialAgent(t, ts)
	a.hello("dev", "agt_a")
	a.ws.WriteMessage(websocket.TextMessage, []byte(`{"v":2,"type":"future-thing","data":{"x":1}}`))
	go postQuiet(ts.URL+"/h/dev", []byte("after"))
	if d, ok := a.read().(*wire.Delivery); !ok || string(d.Body) != "after" {
		t.Fatalf("session did not survive an unknown message: %#v", d)
	}
}

func TestResumeFromCursorInOrder(t *testing.T) {
	_, ts := newRelay(t, Config{ResponseTimeout: 5 * time.Second})
	a := dialAgent(t, ts)
	a.hello("dev", "agt_r")
	go postQuiet(ts.URL+"/h/dev", []byte("1"))
	d1 := a.read().(*wire.Delivery)
	a.send(&wire.Ack{ID: d1.ID, Seq: d1.Seq, Status: 200})
	a.ws.Close()

	// Wait until the relay has noticed the agent is gone, then post more.
	for i := 0; i < 3; i++ {
		for {
			resp, _ := post(t, ts.URL+"/h/dev", []byte{byte('2' + i)})
			if resp.StatusCode == http.StatusAccepted {
				break
			}
		}
	}
	b := dialAgent(t, ts)
	b.hello("dev", "agt_r")
	var got []string
	for len(got) < 3 {
		d := b.read().(*wire.Delivery)
		if !d.Resumed {
			t.Fatalf("not marked resumed: %+v", d)
		}
		got = append(got, string(d.Body))
		b.send(&wire.Ack{ID: d.ID, Seq: d.Seq, Status: 200})
	}
	if strings.Join(got, "") != "234" {
		t.Fatalf("resumed %q, want 234 in order (1 was acked before)", got)
	}
}

// Every method in the IANA registry is taken; what a shell would read in
// a copied command is not.
func TestValidMethod(t *testing.T) {
	for _, m := range []string{"GET", "POST", "PATCH", "PROPFIND", "BASELINE-CONTROL", "UPDATEREDIRECTREF", "VERSION-CONTROL", "MKCALENDAR", "x_custom"} {
		if !wire.ValidMethod(m) {
			t.Errorf("%q refused", m)
		}
	}
	for _, m := range []string{"", "PUT`touch$IFS'x'`", "A|B", "P$X", "G;", "G.T", strings.Repeat("A", 33)} {
		if wire.ValidMethod(m) {
			t.Errorf("%q taken", m)
		}
	}
}

// testKey is the agent key a test agent with id uses.
func testKey(id string) string { return "key-of-" + id + "-in-tests" }
