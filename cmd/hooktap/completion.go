package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// The shell scripts call `hooktap __complete WORD...` with the words after
// hooktap, the last one being the word under the cursor (maybe empty). It
// prints one candidate a line, "candidate<TAB>description" where there is
// one; nothing means "complete file names".

const bashCompletion = `# bash completion for hooktap: eval "$(hooktap completion bash)"
# (or save it as /etc/bash_completion.d/hooktap)
_hooktap() {
    local IFS=$'\n' out
    out=$(hooktap __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
    COMPREPLY=($(printf '%s\n' "$out" | cut -f1))
}
complete -o default -F _hooktap hooktap
`

const zshCompletion = `#compdef hooktap
# zsh completion for hooktap: source <(hooktap completion zsh)
# (or save it as _hooktap in a directory of your $fpath)
_hooktap() {
    local -a lines cands
    local l
    lines=("${(@f)$(hooktap __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    for l in $lines; do
        [[ -z $l ]] && continue
        if [[ $l == *$'\t'* ]]; then
            cands+=("${${l%%$'\t'*}//:/\\:}:${l#*$'\t'}")
        else
            cands+=("${l//:/\\:}")
        fi
    done
    if (( ${#cands} )); then
        _describe -t values hooktap cands
    else
        _files
    fi
}
compdef _hooktap hooktap
`

const fishCompletion = `# fish completion for hooktap: hooktap completion fish | source
# (or save it as ~/.config/fish/completions/hooktap.fish)
function __hooktap_complete
    set -l words (commandline -opc)
    hooktap __complete $words[2..-1] (commandline -ct) 2>/dev/null
end
complete -c hooktap -f -a '(__hooktap_complete)'
`

func cmdCompletion(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "completion", "completion bash|zsh|fish\n\n"+
		"  bash: eval \"$(hooktap completion bash)\"    (in ~/.bashrc)\n"+
		"  zsh:  source <(hooktap completion zsh)      (in ~/.zshrc, after compinit)\n"+
		"  fish: hooktap completion fish | source     (in ~/.config/fish/config.fish)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	scripts := map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}
	if len(pos) != 1 || scripts[pos[0]] == "" {
		return usagef("completion needs a shell: bash, zsh or fish (see hooktap completion -h)")
	}
	_, err = io.WriteString(e.stdout, scripts[pos[0]])
	return err
}

// cmdComplete prints the candidates for the word under the cursor.
func cmdComplete(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		args = []string{""}
	}
	words, cur := args[:len(args)-1], args[len(args)-1]
	for _, c := range complete(ctx, e, words, cur) {
		if strings.HasPrefix(c, cur) {
			fmt.Fprintln(e.stdout, c)
		}
	}
	return nil
}

// subcommands of the commands that have them.
var subcommands = map[string][]string{
	"channels":   {"create", "list", "delete", "rotate-token", "rotate-url"},
	"config":     {"show"},
	"completion": {"bash", "zsh", "fish"},
}

func complete(ctx context.Context, e *env, words []string, cur string) []string {
	if len(words) == 0 || words[0] == "help" && len(words) == 1 {
		var out []string
		for _, c := range commands() {
			if c.summary != "" {
				out = append(out, c.name+"\t"+c.summary)
			}
		}
		return out
	}
	name, rest := words[0], words[1:]
	if name == "events" {
		if len(rest) == 0 {
			var out []string
			for _, c := range eventsCommands {
				out = append(out, c[0]+"\t"+c[1])
			}
			return out
		}
		name, rest = "events "+rest[0], rest[1:]
	}
	fs := flagSetOf(ctx, e, name)
	if fs == nil {
		return nil
	}
	if strings.HasPrefix(cur, "-") {
		var out []string
		fs.VisitAll(func(f *flag.Flag) { out = append(out, "--"+f.Name+"\t"+firstLine(f.Usage)) })
		return out
	}
	if len(rest) > 0 {
		if f := fs.Lookup(strings.TrimLeft(rest[len(rest)-1], "-")); f != nil && strings.HasPrefix(rest[len(rest)-1], "-") && !isBool(f) {
			return flagValues(f.Name, cur)
		}
	}
	pos := positionals(fs, rest)
	switch {
	case len(pos) == 0 && subcommands[name] != nil:
		return subcommands[name]
	case len(pos) == 0 && name == "trigger":
		return eventNames("")
	case len(pos) == 0 && (name == "replay" || name == "resend" || name == "verify" || name == "events show"):
		return deliveryIDs(ctx, e, fs, rest)
	}
	return nil
}

// flagSetOf returns the flag set a command makes, by running it with -h
// (nothing runs past its flag parsing) with its output thrown away.
func flagSetOf(ctx context.Context, e *env, name string) *flag.FlagSet {
	args := strings.Fields(name)
	switch args[0] {
	case "help", "__complete":
		return nil
	case "config":
		args = append(args, "show")
	}
	var fs *flag.FlagSet
	quiet := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: e.getenv,
		sawFlags: func(f *flag.FlagSet) { fs = f }}
	for _, c := range commands() {
		if c.name == args[0] {
			c.run(ctx, quiet, append(args[1:], "-h"))
		}
	}
	return fs
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "`", "")
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// positionals returns the words that are neither flags nor flag values.
func positionals(fs *flag.FlagSet, words []string) []string {
	var pos []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") || w == "-" {
			pos = append(pos, w)
			continue
		}
		if f := fs.Lookup(strings.TrimLeft(w, "-")); f != nil && !isBool(f) && !strings.Contains(w, "=") {
			i++ // its value
		}
	}
	return pos
}

// flagValues are the values a flag may take, where hooktap knows them.
func flagValues(flagName, cur string) []string {
	switch flagName {
	case "events", "action":
		return eventNames(cur)
	case "format":
		return []string{"json", "har"}
	case "scheme":
		return signing.Names()
	case "status":
		return []string{"2xx", "4xx", "5xx", "error", "pending"}
	case "api-version":
		return catalog.APIVersions()
	case "offline-status":
		return []string{"202", "503"}
	}
	return nil
}

// eventNames lists the catalog's actions; after a comma (--events a,b) the
// candidates keep what comes before it.
func eventNames(cur string) []string {
	head := ""
	if i := strings.LastIndexByte(cur, ','); i >= 0 {
		head = cur[:i+1]
	}
	var out []string
	for _, ev := range catalog.All() {
		out = append(out, head+ev.Action())
	}
	return out
}

// deliveryIDs lists the newest deliveries of the store the command would
// read (its --db, HOOKTAP_DB, the config file, the default), with what
// each is about.
func deliveryIDs(ctx context.Context, e *env, fs *flag.FlagSet, words []string) []string {
	fs.Parse(words) // for --db; a half-typed line may not parse, that is fine
	if _, err := applyConfig(e, fs); err != nil {
		return nil
	}
	db := fs.Lookup("db")
	if db == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := store.OpenExisting(ctx, db.Value.String())
	if err != nil {
		return nil
	}
	defer st.Close()
	ds, err := st.List(ctx, store.Query{Limit: 200})
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range ds {
		action := d.Action
		if action == "" {
			action = d.Method + " " + d.Path
		}
		out = append(out, d.ID+"\t"+store.Printable(fmt.Sprintf("%s %d %s", action, d.Status, d.ReceivedAt.Local().Format("Jan 2 15:04"))))
	}
	return out
}
