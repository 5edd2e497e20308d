package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

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
		kept string // an edited body that did not get to the app: where it is kept
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
	ctx, sender, dir := m.ctx, m.sender, editsDir(m.opts.Store)
	return func() tea.Msg {
		_, a, err := sender.Resend(ctx, id, replay.ResendOptions{Body: body})
		msg := actionMsg{what: what, id: id, a: a, err: err}
		if body == nil {
			return msg
		}
		// An edit is work: when it did not get to the app it is kept for
		// the next e (and in a file the user can open), dropped once sent.
		if err != nil || a == nil || a.Status == 0 {
			msg.kept = keepEdit(dir, id, body)
		} else {
			dropEdit(dir, id)
		}
		return msg
	}
}

func (m *Model) editCmd(id string) tea.Cmd {
	ctx, st, sender, editor := m.ctx, m.opts.Store, m.sender, orDefault(m.opts.Editor, "vi")
	return func() tea.Msg {
		full, err := st.Get(ctx, id)
		if err != nil {
			return editMsg{id: id, err: err}
		}
		// Said before the editor opens, not after the user's work.
		if err := sender.CanResend(full, replay.ResendOptions{}); err != nil {
			return editMsg{id: id, err: fmt.Errorf("edit: %w (the editor was not opened)", err)}
		}
		return editBody(full, keptEdit(editsDir(st), full), editor)()
	}
}

// editsDir is where edited bodies that were not sent are kept: beside
// the store.
func editsDir(st *store.Store) string {
	return filepath.Join(filepath.Dir(st.Path()), "edits")
}

// editPath is the file that keeps an edit of delivery id.
func editPath(dir, id string, body []byte) string {
	if json.Valid(body) {
		return filepath.Join(dir, id+".json")
	}
	return filepath.Join(dir, id+".txt")
}

// keepEdit writes body to its file and returns the path ("" when it could
// not be written: the status line then says only the error).
func keepEdit(dir, id string, body []byte) string {
	path := editPath(dir, id, body)
	if os.MkdirAll(dir, 0o700) != nil || os.WriteFile(path, body, 0o600) != nil {
		return ""
	}
	return path
}

// dropEdit removes a kept edit of delivery id: it was sent, or the user
// emptied it to abort.
func dropEdit(dir, id string) {
	for _, ext := range []string{".json", ".txt"} {
		os.Remove(filepath.Join(dir, id+ext))
	}
}

// keptEdit is the edit of d kept from a try that failed, else d's body.
func keptEdit(dir string, d *store.Delivery) []byte {
	for _, ext := range []string{".json", ".txt"} {
		if b, err := os.ReadFile(filepath.Join(dir, d.ID+ext)); err == nil && len(b) > 0 {
			return b
		}
	}
	return d.Body
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

// editBody edits body, d's or a kept edit of it, in the user's editor
// (jsonedit.Draft, as `resend --edit` does), with the terminal handed
// over to it.
func editBody(d *store.Delivery, body []byte, editor string) tea.Cmd {
	draft, err := jsonedit.NewDraft(body)
	if err != nil {
		return func() tea.Msg { return editMsg{id: d.ID, err: err} }
	}
	return tea.ExecProcess(draft.Command(editor), func(err error) tea.Msg {
		defer draft.Remove()
		if err != nil {
			return editMsg{id: d.ID, err: fmt.Errorf("editor %s: %w", editor, err)}
		}
		edited, warning, err := draft.Result() // nil: unchanged
		if edited == nil && err == nil {
			if bytes.Equal(body, d.Body) {
				err = jsonedit.ErrUnchanged // R resends it as stored
			} else {
				edited = body // a kept edit saved as it was
			}
		}
		return editMsg{id: d.ID, body: edited, warning: warning, err: err}
	})
}

func (m *Model) onEdit(msg editMsg) tea.Cmd {
	if errors.Is(msg.err, jsonedit.ErrEmptyEdit) {
		dropEdit(editsDir(m.opts.Store), msg.id)
	}
	if errors.Is(msg.err, jsonedit.ErrUnchanged) {
		m.status.say("edit cancelled: the body was not changed (R resends it as stored)", nil)
		return nil
	}
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
		err := fmt.Errorf("%s: %w", msg.what, msg.err)
		if msg.kept != "" {
			err = fmt.Errorf("%w; edit kept in %s (e opens it again)", err, msg.kept)
		}
		m.status.say("", err)
	} else {
		text := attemptText(msg.what, msg.a)
		if msg.kept != "" {
			text += "; edit kept in " + msg.kept + " (e opens it again)"
		}
		m.status.say(text, nil)
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
		return fmt.Sprintf("%s: no answer (%s) after %s", what, a.Error, FormatMS(a.DurationMS()))
	}
	return fmt.Sprintf("%s: %d in %s", what, a.Status, FormatMS(a.DurationMS()))
}
