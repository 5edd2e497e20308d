package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/hooktap/hooktap/cmd/hooktap/config"
)

// configCommands read the config file: a key applies where the command has
// the flag of that name (forward_to: --forward-to; secret_env: --secret).
var configCommands = map[string]bool{
	"dev": true, "listen": true, "tui": true, "web": true, "replay": true, "resend": true,
	"trigger": true, "verify": true, "events list": true, "events show": true,
	"events export": true, "events import": true, "events prune": true, "config show": true,
}

// agentOnly keys are an agent's filter: they apply to dev and listen, not
// to the events commands' flags of the same names (which filter a list).
var agentOnly = map[string]bool{"entity_id": true, "object_type": true}

var agentCommands = map[string]bool{"dev": true, "listen": true, "config show": true}

// envOf is the environment variable that stands in for a flag.
var envOf = map[string]string{
	"relay": "HOOKTAP_RELAY", "db": "HOOKTAP_DB", "secret": "HOOKTAP_SECRET", "token": "HOOKTAP_TOKEN",
}

// flagOf is the flag a config key sets.
func flagOf(key string) string {
	switch key {
	case "secret_env":
		return "secret"
	case "token_env":
		return "token"
	}
	return strings.ReplaceAll(key, "_", "-")
}

// source is where a flag's value in effect came from.
type source struct {
	key, flag string
	from      string // "flag", "env NAME", "FILE [profiles.P]", "default"
}

// applyConfig gives the flags that neither the command line nor the
// environment set their value from the config file: flags beat environment
// beat the file beat defaults. It returns where each key's value came from.
func applyConfig(e *env, fs *flag.FlagSet) ([]source, error) {
	profile := ""
	if f := fs.Lookup("profile"); f != nil {
		profile = f.Value.String()
	}
	dir, _ := os.Getwd()
	file, err := config.Load(config.Find(e.getenv, dir), profile)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var out []source
	for _, k := range config.Keys {
		name := flagOf(k.Name)
		fl := fs.Lookup(name)
		if fl == nil || agentOnly[k.Name] && !agentCommands[fs.Name()] {
			continue
		}
		s := source{key: k.Name, flag: name, from: "default"}
		v, inFile := file.Get(k.Name)
		switch {
		case set[name]:
			s.from = "flag --" + name
		case envOf[name] != "" && e.getenv(envOf[name]) != "":
			s.from = "env " + envOf[name]
		case inFile && k.Kind == config.EnvName:
			s.from = fmt.Sprintf("env %s, named by %s in %s", v, k.Name, file.Where(k.Name))
			if e.getenv(v) == "" {
				s.from += fmt.Sprintf(" (%s is not set)", v)
			}
			if err := setFrom(fl, e.getenv(v), v); err != nil {
				return nil, err
			}
		case inFile:
			s.from = file.Where(k.Name)
			values := []string{v}
			if k.Kind == config.Each {
				values = strings.Split(v, "\n")
			}
			for _, v := range values {
				if err := fl.Value.Set(v); err != nil {
					return nil, usagef("%s in %s: %v", k.Name, file.Where(k.Name), err)
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// setFrom sets a secret flag from the environment variable the file names,
// so that output can say where the secret came from (never what it is).
func setFrom(fl *flag.Flag, value, envName string) error {
	if value == "" {
		return nil // named but not set: as if absent; config show says so
	}
	if sv, ok := fl.Value.(interface{ setFrom(v, source string) }); ok {
		sv.setFrom(value, envName)
		return nil
	}
	return fl.Value.Set(value)
}

// cmdConfig shows the configuration in effect.
func cmdConfig(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "show" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return configShow(e, []string{"-h"})
		}
		return usagef("config needs a subcommand: show (see hooktap config show -h)")
	}
	return configShow(e, args[1:])
}

// configShow prints each key's value in effect and where it came from,
// with the flags listen takes, so that a command line can be checked too.
func configShow(e *env, args []string) error {
	fs := newFlags(e, "config show", "config show [--profile NAME] [listen's flags]")
	var f agentFlags
	fs.String("relay", envOr(e, "HOOKTAP_RELAY", ""), "relay base URL (or HOOKTAP_RELAY)")
	fs.StringVar(&f.channel, "channel", "", "channel to receive")
	f.register(fs, e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("config show takes no arguments, only flags")
	}
	dir, _ := os.Getwd()
	path := config.Find(e.getenv, dir)
	if path == "" {
		path = "none (" + config.FileName + " here, or $XDG_CONFIG_HOME/hooktap/config.toml)"
	}
	if p := fs.Lookup("profile").Value.String(); p != "" {
		path += " [profiles." + p + "]"
	}
	fmt.Fprintf(e.stdout, "config file: %s\n\n", path)
	tw := tabwriter.NewWriter(printable{e.stdout}, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
	for _, s := range configSources(fs) {
		v := fs.Lookup(s.flag).Value.String()
		if s.flag == "secret" || s.flag == "token" {
			s.key, v = s.flag, "(not set)"
			if f.secret != "" && s.flag == "secret" || f.token != "" && s.flag == "token" {
				v = "(set, not shown)"
			}
		}
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.key, v, s.from)
	}
	return tw.Flush()
}
