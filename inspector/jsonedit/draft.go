package jsonedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ErrEmptyEdit is what Draft.Result returns when the user saved an empty
// file: the way to abort an edit.
var ErrEmptyEdit = errors.New("the edited body is empty; aborted, nothing was sent")

// ErrUnchanged is what callers say when the editor left the body as stored
// (vi's :q!, or closing without saving): an edit that changed nothing is
// taken as cancelled, as kubectl edit does; a resend without edit sends
// the body as stored.
var ErrUnchanged = errors.New("the body was not changed; edit cancelled, nothing was sent")

// Draft is a body being edited by hand in the user's editor, the one way
// the CLI (`resend --edit`) and the TUI (`e`) do it: a JSON body is shown
// pretty-printed, and compacted again if it was compact and still is valid
// JSON; an empty file aborts; a body saved unchanged is nil (callers
// cancel when it is also the stored body: ErrUnchanged).
type Draft struct {
	path     string
	original []byte
	shown    []byte
	isJSON   bool
}

// NewDraft writes body to a temporary file for editing. Remove it when
// done.
func NewDraft(body []byte) (*Draft, error) {
	d := &Draft{original: body, shown: body, isJSON: json.Valid(body)}
	pattern := "hooktap-body-*.txt"
	if d.isJSON {
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "", "  ") == nil {
			pretty.WriteByte('\n')
			d.shown = pretty.Bytes()
		}
		pattern = "hooktap-body-*.json"
	}
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return nil, fmt.Errorf("edit: %w", err)
	}
	d.path = f.Name()
	_, err = f.Write(d.shown)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(d.path)
		return nil, fmt.Errorf("edit: %w", err)
	}
	return d, nil
}

// Editor is the user's editor: $VISUAL, else $EDITOR, else vi (the order
// git and crontab use).
func Editor(getenv func(string) string) string {
	for _, name := range []string{"VISUAL", "EDITOR"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
	}
	return "vi"
}

// Command is editor opening the draft, run through sh like git does, so
// that EDITOR="code --wait" works. The caller connects it to the terminal.
func (d *Draft) Command(editor string) *exec.Cmd {
	return exec.Command("sh", "-c", editor+` "$1"`, "sh", d.path)
}

// Result reads what the user saved: nil when it is unchanged (the stored
// bytes go out exactly), ErrEmptyEdit when it is empty. warning is set
// when a JSON body is no longer valid JSON (it is sent as saved).
func (d *Draft) Result() (body []byte, warning string, err error) {
	saved, err := os.ReadFile(d.path)
	if err != nil {
		return nil, "", fmt.Errorf("edit: %w", err)
	}
	switch {
	case len(bytes.TrimSpace(saved)) == 0:
		return nil, "", ErrEmptyEdit
	case bytes.Equal(saved, d.shown):
		return nil, "", nil
	case d.isJSON && json.Valid(saved):
		return LikeStored(d.original, saved), "", nil
	case d.isJSON:
		return saved, "the edited body is no longer valid JSON; sending it as saved", nil
	}
	return saved, "", nil
}

// LikeStored is an edited JSON body in the stored body's form: compacted
// when the stored one was compact JSON (as providers send it), as it is
// otherwise. Every edit by hand goes through it: `resend --edit`, the
// TUI's e and the web inspector's Edit & resend.
func LikeStored(stored, edited []byte) []byte {
	if !json.Valid(stored) || !json.Valid(edited) {
		return edited
	}
	var b bytes.Buffer
	json.Compact(&b, stored)
	if !bytes.Equal(b.Bytes(), stored) {
		return edited
	}
	b.Reset()
	json.Compact(&b, edited)
	return b.Bytes()
}

// Remove deletes the draft's file.
func (d *Draft) Remove() { os.Remove(d.path) }
