// Package tui is hooktap's terminal UI: a live list of deliveries paged
// from the store, a detail view, a filter, and replay/resend actions.
//
// It is laid out as charmbracelet/soft-serve's pkg/ui is. The root Model
// (model.go) owns the window size, the help, the title and status lines and
// the bus subscription, and routes each message to the model it is for: one
// per screen, each with its own Update and View - the list (list.go), the
// filter input (filter.go), the detail view (detail.go, its panes in
// panes.go) and the curl viewer (curl.go). All IO happens in tea.Cmds; View
// renders only what Update loaded.
package tui

import (
	"context"
	"errors"
	"io"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/store"
)

// Options configure the UI.
type Options struct {
	Store  *store.Store   // required
	Bus    *live.Bus      // live events; nil when browsing history only
	Sender *replay.Sender // replay and resend; built from Store, Bus and Secret when nil
	Secret string         // signing secret for resends when Sender is nil

	Source string // what the title names when browsing history; the store's path when empty
	WebURL string // the web inspector beside the UI, shown in the title
	// WebProblem says why the web inspector beside the UI did not start,
	// and what to do; the status line shows it.
	WebProblem string
	// FilterWarnings are the agent's filter names that no known event has
	// ("--events payabel.created is not a known event (did you mean
	// payable.created?) ..."); the status line shows them.
	FilterWarnings []string
	// InFlight counts the deliveries the agent is forwarding to the app,
	// and Stop tells it to finish them and take no more: the returned
	// channel closes once it has. With both set, quitting while deliveries
	// are in flight waits for them, and a second quit leaves at once.
	InFlight func() int
	Stop     func() <-chan struct{}
	// ProviderAPI is hooktap dev's provider emulator, shown in the title.
	ProviderAPI string
	Editor      string         // command for editing a body ("vi" when empty)
	Clipboard   io.Writer      // where OSC 52 clipboard sequences go; Run uses its output
	Tmux        bool           // wrap OSC 52 for tmux
	Location    *time.Location // times are shown in it; time.Local when nil
	Now         func() time.Time
	// Self is how to run this hooktap in a shell, in the commands shown
	// to paste: "hooktap" when empty.
	Self string
	// TryIt is what the empty list offers to paste to send a first
	// delivery to webhookURL: a curl command and a trigger command ("" for
	// none), for an event the agent's filter takes. Nil: payable.created.
	TryIt func(webhookURL string) (curl, trigger string)
}

// common is what every screen shares, as soft-serve's common.Common: the
// context commands run in, the options, the keys and the styles.
type common struct {
	ctx    context.Context
	opts   Options
	keys   keyMap
	styles Styles
}

func (c *common) now() time.Time {
	if c.opts.Now != nil {
		return c.opts.Now()
	}
	return time.Now()
}

// ErrQuitNow is Run's error when the user quit a second time while the
// agent was finishing deliveries in flight: they are not finished.
var ErrQuitNow = errors.New("quit with deliveries in flight")

// New returns the UI over opts.Store. Call Close when done with it when
// opts.Bus is set (Run does).
func New(opts Options) *Model {
	return newModel(context.Background(), opts)
}

// Run shows the UI on out, reading keys from in, until the user quits or
// ctx ends. It uses the alternate screen and restores the terminal.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	if opts.Clipboard == nil {
		opts.Clipboard = out
	}
	m := newModel(ctx, opts)
	defer m.Close()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	final, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // ended from outside: not a failure
	}
	if fm, ok := final.(*Model); ok && err == nil && fm.forced {
		return ErrQuitNow
	}
	return err
}
