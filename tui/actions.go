package tui

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aymanbagabas/go-osc52/v2"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/hooktap/hooktap/inspector/jsonedit"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/store"
)

type (
	// actionMsg is the end of a replay or resend.
	actionMsg struct {
		what string
		id   string
		a    *store.Attempt
		err  error
	}
	// editMsg is the end of an editor session on a body.
	editMsg struct {
		id      string
		body    []byte
		warning string // the edited body is no longer valid JSON
		err     error
	}
	// copiedMsg is the end of a copy to the clipboard; curl is set when
	// the copied text is to be shown.
	copiedMsg struct {
		text string
		curl string
		err  error
	}
)

// actionFor maps a key to an action on d; ok is false for other keys.
func (m *Model) actionFor(msg tea.KeyMsg, d *store.Delivery) (cmd tea.Cmd, ok bool) {
	k, id := m.keys, d.ID
	switch {
	case key.Matches(msg, k.Replay):
		m.status.say("replaying "+short(id, 12)+"…", nil)
		return m.replayCmd(id), true
	case key.Matches(msg, k.Resend):
		m.status.say("resending "+short(id, 12)+" re-signed…", nil)
		return m.resendCmd("resend", id, nil), true
	case key.Matches(msg, k.Edit):
		return m.editCmd(id), true
	case key.Matches(msg, k.Curl):
		return m.copyCurlCmd(id), true
	case key.Matches(msg, k.CopyBody):
		return m.copyBodyCmd(id), true
	}
	return nil, false
}

func (m *Model) replayCmd(id string) tea.Cmd {
	ctx, sender := m.ctx, m.sender
	return func() tea.Msg {
		_, a, err := sender.Replay(ctx, id, "")
		return actionMsg{what: "replay", id: id, a: a, err: err}
	}
}

// resendCmd resends delivery id re-signed, with body instead of the
// stored one when body is not nil.
func (m *Model) resendCmd(what, id string, body []byte) tea.Cmd {
	ctx, sender := m.ctx, m.sender
	return func() tea.Msg {
		_, a, err := sender.Resend(ctx, id, replay.ResendOptions{Body: body})
		return actionMsg{what: what, id: id, a: a, err: err}
	}
}

func (m *Model) editCmd(id string) tea.Cmd {
	ctx, st, editor := m.ctx, m.opts.Store, orDefault(m.opts.Editor, "vi")
	return func() tea.Msg {
		full, err := st.Get(ctx, id)
		if err != nil {
			return editMsg{id: id, err: err}
		}
		return editBody(full, editor)()
	}
}

func (m *Model) copyCurlCmd(id string) tea.Cmd {
	ctx, st, clip, tmux := m.ctx, m.opts.Store, m.opts.Clipboard, m.opts.Tmux
	return func() tea.Msg {
		full, err := st.Get(ctx, id)
		if err != nil {
			return copiedMsg{err: err}
		}
		target, err := store.CurlTarget(full, "")
		if err != nil {
			return copiedMsg{err: err}
		}
		c := store.CurlCommand(full, target)
		err = copyToClipboard(clip, tmux, c)
		return copiedMsg{text: "copied curl command", curl: c, err: err}
	}
}

func (m *Model) copyBodyCmd(id string) tea.Cmd {
	ctx, st, clip, tmux := m.ctx, m.opts.Store, m.opts.Clipboard, m.opts.Tmux
	return func() tea.Msg {
		full, err := st.Get(ctx, id)
		if err != nil {
			return copiedMsg{err: err}
		}
		err = copyToClipboard(clip, tmux, string(full.Body))
		return copiedMsg{text: fmt.Sprintf("copied body (%d bytes)", len(full.Body)), err: err}
	}
}

// editBody edits d's body in the user's editor (jsonedit.Draft, as `resend
// --edit` does), with the terminal handed over to it.
func editBody(d *store.Delivery, editor string) tea.Cmd {
	draft, err := jsonedit.NewDraft(d.Body)
	if err != nil {
		return func() tea.Msg { return editMsg{id: d.ID, err: err} }
	}
	return tea.ExecProcess(draft.Command(editor), func(err error) tea.Msg {
		defer draft.Remove()
		if err != nil {
			return editMsg{id: d.ID, err: fmt.Errorf("editor %s: %w", editor, err)}
		}
		body, warning, err := draft.Result() // nil: unchanged, the stored body goes out re-signed
		return editMsg{id: d.ID, body: body, warning: warning, err: err}
	})
}

func (m *Model) onEdit(msg editMsg) tea.Cmd {
	if msg.err != nil {
		m.status.say("", msg.err)
		return nil
	}
	what := "resend (edited)"
	if msg.warning != "" {
		what = "resend (edited, not valid JSON)" // sent as saved, as resend --edit warns
	}
	m.status.say("resending "+short(msg.id, 12)+" with the edited body…", nil)
	return m.resendCmd(what, msg.id, msg.body)
}

// onAction shows an action's result and reloads what shows the new
// attempt (the bus also says so when there is one).
func (m *Model) onAction(msg actionMsg) tea.Cmd {
	if msg.err != nil {
		if errors.Is(msg.err, context.Canceled) {
			return nil
		}
		m.status.say("", fmt.Errorf("%s: %w", msg.what, msg.err))
	} else {
		m.status.say(attemptText(msg.what, msg.a), nil)
	}
	if msg.a == nil {
		return nil
	}
	return tea.Batch(m.list.reload(), m.detail.reloadIfShown(msg.id))
}

func (m *Model) onCopied(msg copiedMsg) tea.Cmd {
	m.status.say(msg.text, msg.err)
	if msg.curl == "" {
		return nil
	}
	m.curl.show(msg.curl)
	return m.show(screenCurl)
}

// copyToClipboard sends text to the terminal's clipboard with OSC 52.
func copyToClipboard(w io.Writer, tmux bool, text string) error {
	if w == nil {
		return errors.New("no terminal to copy to")
	}
	seq := osc52.New(text)
	if tmux {
		seq = seq.Tmux()
	}
	_, err := seq.WriteTo(w)
	return err
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// attemptText is the message shown for a finished attempt.
func attemptText(what string, a *store.Attempt) string {
	if a == nil {
		return what
	}
	if a.Status == 0 {
		return fmt.Sprintf("%s: no answer (%s) after %s", what, a.Error, fmtMS(a.DurationMS()))
	}
	return fmt.Sprintf("%s: %d in %s", what, a.Status, fmtMS(a.DurationMS()))
}
