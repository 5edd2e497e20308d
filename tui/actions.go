package tui

import (
	"context"
	"errors"
	"fmt"

	"github.com/aymanbagabas/go-osc52/v2"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

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
		id   string
		body []byte
		err  error
	}
	// copiedMsg is the end of a copy to the clipboard; curl is set when
	// the copied text is to be shown.
	copiedMsg struct {
		text string
		curl string
		err  error
	}
)

// actionKey runs the action msg asks for on d, from the list.
func (m *Model) actionKey(msg tea.KeyMsg, d *store.Delivery) tea.Cmd {
	if d == nil {
		return nil
	}
	cmd, _ := m.actionFor(msg, d)
	return cmd
}

// actionFor maps a key to an action on d; ok is false for other keys.
func (m *Model) actionFor(msg tea.KeyMsg, d *store.Delivery) (cmd tea.Cmd, ok bool) {
	k := m.keys
	ctx, sender, st := m.ctx, m.sender, m.opts.Store
	id := d.ID
	switch {
	case key.Matches(msg, k.Replay):
		m.say("replaying "+short(id, 12)+"…", nil)
		return func() tea.Msg {
			_, a, err := sender.Replay(ctx, id, "")
			return actionMsg{what: "replay", id: id, a: a, err: err}
		}, true
	case key.Matches(msg, k.Resend):
		m.say("resending "+short(id, 12)+" re-signed…", nil)
		return func() tea.Msg {
			_, a, err := sender.Resend(ctx, id, replay.ResendOptions{})
			return actionMsg{what: "resend", id: id, a: a, err: err}
		}, true
	case key.Matches(msg, k.Edit):
		editor := m.opts.Editor
		if editor == "" {
			editor = "vi"
		}
		return func() tea.Msg {
			full, err := st.Get(ctx, id)
			if err != nil {
				return editMsg{id: id, err: err}
			}
			return editBody(full, editor)()
		}, true
	case key.Matches(msg, k.Curl):
		clip, tmux := m.opts.Clipboard, m.opts.Tmux
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
		}, true
	case key.Matches(msg, k.CopyBody):
		clip, tmux := m.opts.Clipboard, m.opts.Tmux
		return func() tea.Msg {
			full, err := st.Get(ctx, id)
			if err != nil {
				return copiedMsg{err: err}
			}
			err = copyToClipboard(clip, tmux, string(full.Body))
			return copiedMsg{text: fmt.Sprintf("copied body (%d bytes)", len(full.Body)), err: err}
		}, true
	}
	return nil, false
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
		body, _, err := draft.Result() // nil: unchanged, the stored body goes out re-signed
		return editMsg{id: d.ID, body: body, err: err}
	})
}

func (m *Model) onEdit(msg editMsg) tea.Cmd {
	if msg.err != nil {
		m.say("", msg.err)
		return nil
	}
	ctx, sender, id, body := m.ctx, m.sender, msg.id, msg.body
	m.say("resending "+short(id, 12)+" with the edited body…", nil)
	return func() tea.Msg {
		_, a, err := sender.Resend(ctx, id, replay.ResendOptions{Body: body})
		return actionMsg{what: "resend (edited)", id: id, a: a, err: err}
	}
}

// onAction shows an action's result and reloads what shows the new
// attempt (the bus also says so when there is one).
func (m *Model) onAction(msg actionMsg) tea.Cmd {
	if msg.err != nil {
		if errors.Is(msg.err, context.Canceled) {
			return nil
		}
		m.say("", fmt.Errorf("%s: %w", msg.what, msg.err))
	} else {
		m.say(attemptText(msg.what, msg.a), nil)
	}
	if msg.a == nil {
		return nil
	}
	cmds := []tea.Cmd{m.reload()}
	if m.screen == screenDetail && m.detail.d != nil && m.detail.d.ID == msg.id {
		cmds = append(cmds, m.loadDetail(msg.id))
	}
	return tea.Batch(cmds...)
}

func (m *Model) onCopied(msg copiedMsg) tea.Cmd {
	m.say(msg.text, msg.err)
	if msg.curl != "" {
		m.text.SetContent(ansi.Hardwrap(msg.curl, max(m.width, 10), true))
		m.text.GotoTop()
		m.screen = screenText
	}
	return nil
}

// copyToClipboard sends text to the terminal's clipboard with OSC 52.
func copyToClipboard(w interface{ Write([]byte) (int, error) }, tmux bool, text string) error {
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
