package tui

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

func TestMain(m *testing.M) {
	// Goldens and string checks see plain text.
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

var base = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// fixedNow is an hour after the first seeded delivery, the same day.
func fixedNow() time.Time { return base.Add(time.Hour) }

var statuses = []int{200, 204, 404, 500, 0}

func delivery(i int) *store.Delivery {
	actions := []string{"payable.created", "payable.status_updated", "counterpart.created", "receivable.updated"}
	action := actions[i%len(actions)]
	objType, _, _ := strings.Cut(action, ".")
	body := fmt.Sprintf(`{"id":"evt_%06d","object_type":%q,"action":%q,"entity_id":"ent_%04d","object":{"id":"obj_%06d","amount":%d,"paid":false,"note":null}}`,
		i, objType, action, i%7, i, i*100)
	sigs := []signing.State{signing.Valid, signing.Invalid, signing.Unsigned}
	d := &store.Delivery{
		ID:         fmt.Sprintf("dlv_%06d", i),
		Channel:    "dev",
		ReceivedAt: base.Add(time.Duration(i) * time.Second),
		Method:     "POST",
		Path:       "/billing",
		Query:      "src=test",
		Header:     http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Monite-Webhooks/1.0"}},
		Body:       []byte(body),
		RemoteAddr: "203.0.113.7:51234",
		Host:       "relay.example",
		Proto:      "HTTP/1.1",
		ObjectType: objType,
		Action:     action,
		EntityID:   fmt.Sprintf("ent_%04d-5f1c-4a7e-9d2b-1c0ffee00000", i%7),
		ObjectID:   fmt.Sprintf("obj_%06d", i),
		EventID:    fmt.Sprintf("evt_%06d", i),
		Signature:  sigs[i%len(sigs)],
	}
	if d.Signature == signing.Invalid {
		d.Scheme, d.SignatureReason = "monite", "signature mismatch"
	}
	return d
}

func attempt(d *store.Delivery, i int, target string) *store.Attempt {
	a := &store.Attempt{
		DeliveryID: d.ID,
		Kind:       store.KindForward,
		Target:     target,
		StartedAt:  d.ReceivedAt.Add(2 * time.Millisecond),
		Duration:   time.Duration(i%50+1)*time.Millisecond + 300*time.Microsecond,
		Status:     statuses[i%len(statuses)],
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       []byte(`{"received":true}`),
	}
	if a.Status == 0 {
		a.Error, a.Header, a.Body = "connection refused", nil, nil
	}
	return a
}

// seed stores deliveries from..from+n-1, each forwarded once to target.
func seed(tb testing.TB, s *store.Store, from, n int, target string) {
	tb.Helper()
	pending := make([]<-chan error, 0, 2*n)
	for i := from; i < from+n; i++ {
		d := delivery(i)
		pending = append(pending, s.Insert(d), s.AddAttempt(attempt(d, i, target)))
	}
	for _, p := range pending {
		stored(tb, p)
	}
}

// patience bounds every wait in these tests: long enough for a loaded
// 2-core machine under -race, short enough that a stuck test fails
// instead of hanging the run.
const patience = 20 * time.Second

// stored waits for a store write to commit.
func stored(tb testing.TB, p <-chan error) {
	tb.Helper()
	select {
	case err := <-p:
		if err != nil {
			tb.Fatal(err)
		}
	case <-time.After(patience):
		tb.Fatalf("a store write did not commit in %s", patience)
	}
}

// nextRequest is the next request the app got.
func nextRequest(t *testing.T, got <-chan *http.Request) *http.Request {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(patience):
		t.Fatalf("the app got no request in %s", patience)
		return nil
	}
}

// waitScreen waits until the running program has drawn all of texts since
// the last wait.
func waitScreen(t *testing.T, tm *teatest.TestModel, texts ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, s := range texts {
			if !bytes.Contains(b, []byte(s)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(patience), teatest.WithCheckInterval(10*time.Millisecond))
}

func openStore(tb testing.TB) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "hooktap.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func testOptions(s *store.Store) Options {
	return Options{Store: s, Location: time.UTC, Now: fixedNow, Source: "test.db"}
}

// send hands msg to Update and runs the commands that follow, the way the
// program would, until none are left.
func send(t *testing.T, m *Model, msg tea.Msg) {
	t.Helper()
	_, cmd := m.Update(msg)
	run(t, m, cmd)
}

func run(t *testing.T, m *Model, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			run(t, m, c)
		}
	case tea.QuitMsg:
	default:
		send(t, m, msg)
	}
}

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "pgdown":
		return tea.KeyMsg{Type: tea.KeyPgDown}
	case "pgup":
		return tea.KeyMsg{Type: tea.KeyPgUp}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// newSized is a model over s at 100x30, with its first page loaded.
func newSized(t *testing.T, opts Options) *Model {
	t.Helper()
	m := newModel(t.Context(), opts)
	t.Cleanup(m.Close)
	send(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	return m
}

func ids(page []*store.Delivery) []string {
	out := make([]string, len(page))
	for i, d := range page {
		out[i] = d.ID
	}
	return out
}

func TestListPaging(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 60, "http://127.0.0.1:9/webhooks")
	m := newSized(t, testOptions(s))
	rows := m.list.rows()
	if rows != 26 {
		t.Fatalf("rows at 100x30 = %d, want 26", rows)
	}
	if len(m.list.page) != rows || m.list.page[0].ID != "dlv_000059" || m.list.selected != "dlv_000059" {
		t.Fatalf("first page: %d rows from %s, selected %q", len(m.list.page), m.list.page[0].ID, m.list.selected)
	}

	// Down to the last row, then one more scrolls by one row.
	for range rows - 1 {
		send(t, m, keyMsg("j"))
	}
	if m.list.cursor != rows-1 || m.list.selected != "dlv_000034" {
		t.Fatalf("after %d downs: cursor %d, selected %s", rows-1, m.list.cursor, m.list.selected)
	}
	send(t, m, keyMsg("down"))
	if m.list.page[0].ID != "dlv_000058" || m.list.selected != "dlv_000033" || m.list.cursor != rows-1 {
		t.Fatalf("scrolled: top %s, selected %s at %d", m.list.page[0].ID, m.list.selected, m.list.cursor)
	}
	// Up to the first row, then one more scrolls back.
	for range rows - 1 {
		send(t, m, keyMsg("k"))
	}
	send(t, m, keyMsg("up"))
	if m.list.page[0].ID != "dlv_000059" || m.list.selected != "dlv_000059" || m.list.cursor != 0 {
		t.Fatalf("scrolled back: top %s, selected %s at %d", m.list.page[0].ID, m.list.selected, m.list.cursor)
	}

	// Pages: 60 rows are 26 + 26 + 8.
	send(t, m, keyMsg("pgdown"))
	if m.list.page[0].ID != "dlv_000033" {
		t.Fatalf("page 2 starts at %s", m.list.page[0].ID)
	}
	send(t, m, keyMsg("pgdown"))
	if len(m.list.page) != 8 || m.list.page[0].ID != "dlv_000007" || m.list.page[7].ID != "dlv_000000" {
		t.Fatalf("page 3: %v", ids(m.list.page))
	}
	send(t, m, keyMsg("pgdown")) // the last page: goes to its last row
	if len(m.list.page) != 8 || m.list.selected != "dlv_000000" {
		t.Fatalf("past the end: %d rows, selected %s", len(m.list.page), m.list.selected)
	}
	send(t, m, keyMsg("pgup"))
	send(t, m, keyMsg("pgup"))
	if m.list.page[0].ID != "dlv_000059" || m.list.top != 0 {
		t.Fatalf("back at the top: %s, top %d", m.list.page[0].ID, m.list.top)
	}
	send(t, m, keyMsg("pgdown"))
	send(t, m, keyMsg("g"))
	if m.list.page[0].ID != "dlv_000059" || m.list.cursor != 0 || len(m.list.back) != 0 {
		t.Fatalf("g: %s at %d", m.list.page[0].ID, m.list.cursor)
	}
}

// arrived tells the model that deliveries arrived, as the bus would.
func arrived(t *testing.T, m *Model, id string) {
	send(t, m, busMsg{live.Event{Kind: live.EventReceived, Delivery: &store.Delivery{ID: id}}})
	send(t, m, busMsg{live.Event{Kind: live.EventAttempt, Delivery: &store.Delivery{ID: id}}})
}

func TestSelectionStaysWhenDeliveriesArrive(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 40, "http://127.0.0.1:9/webhooks")
	m := newSized(t, testOptions(s))
	for range 3 {
		send(t, m, keyMsg("j"))
	}
	if m.list.selected != "dlv_000036" {
		t.Fatalf("selected %s", m.list.selected)
	}
	seed(t, s, 40, 2, "http://127.0.0.1:9/webhooks")
	arrived(t, m, "dlv_000041")
	if m.list.page[0].ID != "dlv_000041" {
		t.Fatalf("new rows not shown: top %s", m.list.page[0].ID)
	}
	if m.list.selected != "dlv_000036" || m.list.cursor != 5 {
		t.Fatalf("selection moved: %s at %d", m.list.selected, m.list.cursor)
	}
	if !strings.Contains(m.View(), "▸ 09:30:36") {
		t.Fatalf("selected row not marked:\n%s", m.View())
	}

	// So many arrive that the selection would fall off the page: the page
	// stays where it was.
	before := ids(m.list.page)
	seed(t, s, 42, 30, "http://127.0.0.1:9/webhooks")
	arrived(t, m, "dlv_000071")
	if m.list.selected != "dlv_000036" || m.list.cursor != 5 {
		t.Fatalf("selection moved: %s at %d", m.list.selected, m.list.cursor)
	}
	if got := ids(m.list.page); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Fatalf("pinned page changed:\n%v\n%v", got, before)
	}
	seed(t, s, 72, 1, "http://127.0.0.1:9/webhooks")
	arrived(t, m, "dlv_000072")
	if !strings.Contains(m.View(), "▲ 1 new (g)") {
		t.Fatalf("no new-deliveries mark:\n%s", m.View())
	}
	send(t, m, keyMsg("g"))
	if m.list.page[0].ID != "dlv_000072" || m.list.selected != "dlv_000072" {
		t.Fatalf("g: top %s, selected %s", m.list.page[0].ID, m.list.selected)
	}
}

func TestFollow(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 10, "http://127.0.0.1:9/webhooks")
	m := newSized(t, testOptions(s))
	send(t, m, keyMsg("j"))
	send(t, m, keyMsg("j"))
	send(t, m, keyMsg("f"))
	if !m.list.follow || m.list.selected != "dlv_000009" {
		t.Fatalf("follow on: %v, selected %s", m.list.follow, m.list.selected)
	}
	if !strings.Contains(m.View(), "FOLLOW") {
		t.Fatal("follow mode not shown")
	}
	seed(t, s, 10, 1, "http://127.0.0.1:9/webhooks")
	arrived(t, m, "dlv_000010")
	if m.list.selected != "dlv_000010" || m.list.cursor != 0 {
		t.Fatalf("following: selected %s at %d", m.list.selected, m.list.cursor)
	}
	send(t, m, keyMsg("f"))
	seed(t, s, 11, 1, "http://127.0.0.1:9/webhooks")
	arrived(t, m, "dlv_000011")
	if m.list.selected != "dlv_000010" || m.list.cursor != 1 {
		t.Fatalf("follow off: selected %s at %d", m.list.selected, m.list.cursor)
	}
	send(t, m, keyMsg("f"))
	send(t, m, keyMsg("j")) // moving by hand ends following
	if m.list.follow {
		t.Fatal("still following after a move")
	}
}

func typeFilter(m *Model, text string) {
	m.Update(keyMsg("/"))
	for _, r := range text {
		if r == ' ' {
			m.Update(tea.KeyMsg{Type: tea.KeySpace})
			continue
		}
		m.Update(keyMsg(string(r)))
	}
}

func TestFilter(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 50, "http://127.0.0.1:9/webhooks")
	m := newSized(t, testOptions(s))

	typeFilter(m, "status:5xx")
	if !m.filter.typing || !strings.Contains(m.View(), "/status:5xx█") {
		t.Fatalf("filter line not shown:\n%s", m.View())
	}
	stale := m.filter.gen - 1
	send(t, m, filterMsg{stale}) // typing went on: nothing happens
	if m.list.queryText != "" {
		t.Fatalf("stale debounce applied %q", m.list.queryText)
	}
	send(t, m, filterMsg{m.filter.gen})
	if m.list.queryText != "status:5xx" || len(m.list.page) != 10 {
		t.Fatalf("status:5xx: applied %q, %d rows", m.list.queryText, len(m.list.page))
	}
	for _, d := range m.list.page {
		if d.Status != 500 {
			t.Fatalf("status:5xx shows %s with %d", d.ID, d.Status)
		}
	}
	send(t, m, keyMsg("enter"))
	if m.filter.typing || !strings.Contains(m.View(), "filter: status:5xx") {
		t.Fatalf("enter: filtering %v\n%s", m.filter.typing, m.View())
	}

	// A new filter: type and action glob with free text.
	send(t, m, keyMsg("esc"))
	if m.list.queryText != "" || len(m.list.page) != 26 {
		t.Fatalf("esc: applied %q, %d rows", m.list.queryText, len(m.list.page))
	}
	typeFilter(m, "action:payable.* obj_000012")
	send(t, m, filterMsg{m.filter.gen})
	if got := ids(m.list.page); len(got) != 1 || got[0] != "dlv_000012" {
		t.Fatalf("action:payable.* obj_000012: %v", got)
	}

	// A bad term keeps the last good filter and says why.
	m.Update(keyMsg("x")) // "…obj_000012x"
	m.Update(tea.KeyMsg{Type: tea.KeyCtrlU})
	for _, r := range "status:abc" {
		m.Update(keyMsg(string(r)))
	}
	send(t, m, filterMsg{m.filter.gen})
	if m.list.queryText != "action:payable.* obj_000012" || !strings.Contains(m.View(), "bad status") {
		t.Fatalf("bad filter: applied %q\n%s", m.list.queryText, m.View())
	}
	send(t, m, keyMsg("esc"))
	if m.list.queryText != "" || m.filter.typing || len(m.list.page) != 26 {
		t.Fatalf("esc while typing: applied %q, %d rows", m.list.queryText, len(m.list.page))
	}
	typeFilter(m, "entity:nobody")
	send(t, m, filterMsg{m.filter.gen})
	if len(m.list.page) != 0 || !strings.Contains(m.View(), `No deliveries match "entity:nobody"`) {
		t.Fatalf("empty result:\n%s", m.View())
	}
	// A mistyped key is searched as text: the empty list says so.
	send(t, m, keyMsg("esc"))
	typeFilter(m, "stauts:5xx")
	send(t, m, filterMsg{m.filter.gen})
	if len(m.list.page) != 0 || !strings.Contains(m.View(), "did you mean status:5xx?") {
		t.Fatalf("mistyped key:\n%s", m.View())
	}
}

func TestDetailPanes(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 3, "http://127.0.0.1:3000/webhooks/billing?src=test")
	m := newSized(t, testOptions(s))
	send(t, m, keyMsg("j")) // dlv_000001: 204, invalid signature
	send(t, m, keyMsg("enter"))
	if m.screen != screenDetail || m.detail.d == nil || m.detail.d.ID != "dlv_000001" {
		t.Fatalf("enter: screen %d, detail %+v", m.screen, m.detail.d)
	}
	content := ansi.Strip(m.detail.vp.View())
	for _, want := range []string{"POST /billing?src=test HTTP/1.1", "Content-Type: application/json",
		`"object_type": "payable"`, "✗ invalid (monite): signature mismatch"} {
		if !strings.Contains(content, want) {
			t.Errorf("request pane lacks %q:\n%s", want, content)
		}
	}
	send(t, m, keyMsg("tab"))
	content = ansi.Strip(m.detail.vp.View())
	if !strings.Contains(content, "204") || !strings.Contains(content, `"received": true`) {
		t.Errorf("response pane:\n%s", content)
	}
	send(t, m, keyMsg("tab"))
	content = ansi.Strip(m.detail.vp.View())
	if !strings.Contains(content, "1   forward") || !strings.Contains(content, "2.3ms") {
		t.Errorf("attempts pane:\n%s", content)
	}
	send(t, m, tea.KeyMsg{Type: tea.KeyShiftTab})
	if m.detail.pane != paneResponse {
		t.Errorf("shift+tab: pane %d", m.detail.pane)
	}
	send(t, m, keyMsg("esc"))
	if m.screen != screenList || m.list.selected != "dlv_000001" {
		t.Fatalf("esc: screen %d, selected %s", m.screen, m.list.selected)
	}
}

// TestDetailEmulatorDelivery: a delivery from hooktap's provider emulator
// shows its subscription and attempt number.
func TestDetailEmulatorDelivery(t *testing.T) {
	s := openStore(t)
	d := delivery(0)
	d.Header.Set("X-Hooktap-Subscription-Id", "sub-123")
	d.Header.Set("X-Hooktap-Attempt", "3")
	stored(t, s.Insert(d))
	m := newSized(t, testOptions(s))
	send(t, m, keyMsg("enter"))
	if content := ansi.Strip(m.detail.vp.View()); !strings.Contains(content, "emulator   subscription sub-123, attempt 3") {
		t.Errorf("request pane:\n%s", content)
	}
}

// TestTitleShowsProviderAPI: in hooktap dev the title names the provider
// emulator's API beside the webhook URL.
func TestTitleShowsProviderAPI(t *testing.T) {
	o := testOptions(openStore(t))
	o.Bus = fullStoreBus()
	o.ProviderAPI = "http://127.0.0.1:8789/v1"
	m := newSized(t, o)
	if title := ansi.Strip(m.titleBar()); !strings.Contains(title, "API http://127.0.0.1:8789/v1") {
		t.Errorf("title: %q", title)
	}
}

func TestColourJSON(t *testing.T) {
	st := DefaultStyles()
	in := "{\n  \"a\\\"b\": \"x\",\n  \"n\": -1.5e3,\n  \"t\": true,\n  \"z\": null\n}"
	if got := colourJSON(in, st); ansi.Strip(got) != in {
		t.Fatalf("colouring changed the text:\n%s", got)
	}
}

// app is a real HTTP server that records what it was sent.
func app(t *testing.T) (*httptest.Server, chan *http.Request) {
	got := make(chan *http.Request, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		got <- r
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"thanks":1}`)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestReplayAndResend(t *testing.T) {
	s := openStore(t)
	srv, got := app(t)
	seed(t, s, 0, 3, srv.URL+"/webhooks")
	opts := testOptions(s)
	m := newSized(t, opts)

	send(t, m, keyMsg("r"))
	r := nextRequest(t, got)
	if r.URL.Path != "/webhooks" {
		t.Fatalf("replay went to %s", r.URL)
	}
	if !strings.Contains(m.View(), "replay: 202 in") {
		t.Fatalf("replay result not shown:\n%s", m.View())
	}
	if m.list.page[0].Attempts != 2 || m.list.page[0].Status != 202 {
		t.Fatalf("list not reloaded: %d attempts, status %d", m.list.page[0].Attempts, m.list.page[0].Status)
	}

	send(t, m, keyMsg("j")) // dlv_000001, which arrived signed
	send(t, m, keyMsg("R")) // no secret
	if !strings.Contains(m.View(), "resend: resend needs the signing secret") {
		t.Fatalf("no-secret error not shown:\n%s", m.View())
	}

	opts.Secret = "whsec_test"
	m = newSized(t, opts)
	send(t, m, keyMsg("enter"))
	send(t, m, keyMsg("tab"))
	send(t, m, keyMsg("tab"))
	send(t, m, keyMsg("R"))
	r = nextRequest(t, got)
	if !strings.HasPrefix(r.Header.Get("Monite-Signature"), "t=") {
		t.Fatalf("resend not signed: %v", r.Header)
	}
	if !strings.Contains(m.View(), "resend: 202 in") {
		t.Fatalf("resend result not shown:\n%s", m.View())
	}
	attempts := ansi.Strip(m.detail.vp.View())
	if !strings.Contains(attempts, "3   resend") || !strings.Contains(attempts, "2   replay") {
		t.Fatalf("attempts pane does not show the new attempts:\n%s", attempts)
	}
}

func TestCopy(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 1, "http://127.0.0.1:3000/webhooks")
	var clip bytes.Buffer
	opts := testOptions(s)
	opts.Clipboard = &clip
	m := newSized(t, opts)

	send(t, m, keyMsg("y"))
	body := string(delivery(0).Body)
	if want := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(body)) + "\a"; clip.String() != want {
		t.Fatalf("y wrote %q, want %q", clip.String(), want)
	}
	if !strings.Contains(m.View(), fmt.Sprintf("copied body (%d bytes)", len(body))) {
		t.Fatalf("y: %s", m.View())
	}

	clip.Reset()
	send(t, m, keyMsg("c"))
	seq := clip.String()
	enc := strings.TrimSuffix(strings.TrimPrefix(seq, "\x1b]52;c;"), "\a")
	curl, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("c wrote %q: %v", seq, err)
	}
	want := "curl -sS -i -X 'POST' 'http://127.0.0.1:3000/webhooks' \\\n  -H 'Content-Type: application/json' \\\n" +
		"  -H 'User-Agent: Monite-Webhooks/1.0' \\\n  --data-binary '" + body + "'"
	if string(curl) != want {
		t.Fatalf("curl:\n%s\nwant:\n%s", curl, want)
	}
	if m.screen != screenCurl || !strings.Contains(m.View(), "curl -sS -i -X 'POST' 'http://127.0.0.1:3000/webhooks'") {
		t.Fatalf("curl not shown:\n%s", m.View())
	}
	send(t, m, keyMsg("esc"))
	if m.screen != screenList {
		t.Fatalf("esc after curl: screen %d", m.screen)
	}
}

// TestCopyCurlHostile runs what c copies for deliveries a hostile sender
// could have stored: shell in the method, path, query, headers and body.
func TestCopyCurlHostile(t *testing.T) {
	for name, body := range map[string][]byte{
		"text":   []byte("'$(touch b1)';`touch b2`\"\n"),
		"binary": {0, 0xff, '\'', '$', '(', 0, '\n'},
	} {
		t.Run(name, func(t *testing.T) {
			got := make(chan *http.Request, 1)
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(b))
				got <- r
			}))
			defer app.Close()
			uri := "/hooks/$(touch%20p)/`touch$IFS'q'`;touch$IFS'r'?x=';touch$IFS's';'&y=`touch$IFS't'`"
			s := openStore(t)
			d := &store.Delivery{
				ID: "dlv_hostile", Channel: "dev", ReceivedAt: base, Method: "PUT`touch$IFS'x'`",
				Header: http.Header{"Content-Type": {"application/json"}, "X-Evil": {"$(touch h1)", "`touch h2`;'"}, "X-Bytes": {"caf\xe9 \xff"}},
				Body:   body, Signature: signing.Unsigned,
			}
			a := &store.Attempt{DeliveryID: d.ID, Kind: store.KindForward, Target: app.URL + uri, StartedAt: base, Status: 200}
			stored(t, s.Insert(d))
			stored(t, s.AddAttempt(a))
			stored, err := s.Get(t.Context(), d.ID)
			if err != nil {
				t.Fatal(err)
			}

			var clip bytes.Buffer
			opts := testOptions(s)
			opts.Clipboard = &clip
			m := newSized(t, opts)
			send(t, m, keyMsg("c"))
			cmd, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(clip.String(), "\x1b]52;c;"), "\a"))
			if err != nil {
				t.Fatalf("c wrote %q: %v", clip.String(), err)
			}
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(t.Context(), patience)
			defer cancel()
			sh := exec.CommandContext(ctx, "/bin/sh", "-c", string(cmd))
			sh.Dir = dir
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s\ncommand:\n%s", err, out, cmd)
			}
			if files, _ := os.ReadDir(dir); len(files) > 0 {
				t.Fatalf("the command made %v:\n%s", files, cmd)
			}
			r := nextRequest(t, got)
			b, _ := io.ReadAll(r.Body)
			if r.Method != d.Method || r.RequestURI != uri || !bytes.Equal(b, d.Body) {
				t.Errorf("app got %q %q %q, want %q %q %q", r.Method, r.RequestURI, b, d.Method, uri, d.Body)
			}
			for _, k := range []string{"Content-Type", "X-Evil", "X-Bytes"} {
				if g, w := r.Header.Values(k), stored.Header.Values(k); !slices.Equal(g, w) {
					t.Errorf("%s: app got %q, stored %q", k, g, w)
				}
			}
		})
	}
}

// TestKeysTypedTogether sends keys the way bubbletea reads them when they
// come faster than it reads (held keys, a loaded machine, ssh, tmux
// send-keys): several letters in one message. Each is a key; once / opens
// the filter, the rest is filter text.
func TestKeysTypedTogether(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 10, "http://127.0.0.1:9/webhooks")
	m := newSized(t, testOptions(s))
	send(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jjj")})
	if m.list.selected != "dlv_000006" {
		t.Fatalf("jjj selected %s, want dlv_000006", m.list.selected)
	}
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("k/status:5xx")})
	if m.list.selected != "dlv_000007" || !m.filter.typing || m.filter.text != "status:5xx" {
		t.Fatalf("k/status:5xx: selected %s, typing %v, filter %q", m.list.selected, m.filter.typing, m.filter.text)
	}
	// Pasted text is not keys.
	m = newSized(t, testOptions(s))
	send(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jjq"), Paste: true})
	if m.list.selected != "dlv_000009" {
		t.Fatalf("a paste moved the selection to %s", m.list.selected)
	}
}
