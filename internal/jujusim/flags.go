package jujusim

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// flagKind is how a flag's value is parsed.
type flagKind int

const (
	boolFlag flagKind = iota
	stringFlag
	relationFlag
	formatFlag
)

// flagDef is one flag; every name (like "r" and "relation") is a spelling
// of the same flag, as Juju registers both on one value.
type flagDef struct {
	names []string
	kind  flagKind
	// formats restricts formatFlag values (default json, yaml, smart).
	formats []string
}

// parsedFlags is the outcome of parsing a tool's command line.
type parsedFlags struct {
	bools    map[string]bool
	strs     map[string]string
	set      map[string]bool
	relation *Relation
	args     []string
	help     bool
}

// has reports whether the flag (by its first name) was given.
func (p *parsedFlags) has(name string) bool { return p.set[name] }

// parseFlags parses args the way juju/gnuflag does with interspersed
// arguments: "--" ends flags; "-" and "" are arguments; "--name" or
// "--name=value" are long flags (a value flag without "=" takes the next
// argument); "-abc" is a group of one-rune flags, where a value flag takes
// the rest of the group ("-r3") or the next argument. A bool flag takes a
// value only through "=" ("--app=false"), parsed by strconv.ParseBool.
// Errors are usage errors (exit 2), worded as gnuflag words them.
func parseFlags(args []string, defs []flagDef, lookup func(id int) *Relation) (*parsedFlags, error) {
	byName := map[string]*flagDef{}
	for i := range defs {
		for _, n := range defs[i].names {
			byName[n] = &defs[i]
		}
	}
	p := &parsedFlags{bools: map[string]bool{}, strs: map[string]string{}, set: map[string]bool{}}
	rest := args
	for len(rest) > 0 {
		a := rest[0]
		rest = rest[1:]
		if a == "-" || a == "" || a[0] != '-' {
			p.args = append(p.args, a)
			continue
		}
		if a == "--" {
			p.args = append(p.args, rest...)
			break
		}
		var names []string // flags to process; the last may carry a value
		var inline string  // value text following the flag name
		long := a[1] == '-'
		if long {
			name := a[2:]
			if i := strings.Index(a, "="); i >= 0 {
				name = a[2:i]
				if name == "" {
					return nil, fmt.Errorf("empty flag in argument %q", a)
				}
				inline = a[i:]
			}
			names = []string{name}
		} else {
			group := a[1:]
			for group != "" {
				_, n := utf8.DecodeRuneInString(group)
				name := group[:n]
				group = group[n:]
				names = append(names, name)
				if d, ok := byName[name]; ok && d.kind != boolFlag && group != "" {
					inline = group
					break
				}
				if strings.HasPrefix(group, "=") {
					inline = group
					break
				}
			}
		}
		for i, name := range names {
			last := i == len(names)-1
			d, ok := byName[name]
			if !ok {
				if name == "help" || name == "h" {
					p.help = true
					return p, nil
				}
				return nil, fmt.Errorf("flag provided but not defined: %s", flagWithMinus(name))
			}
			canon := d.names[0]
			p.set[canon] = true
			text := ""
			if last {
				text = inline
			}
			if d.kind == boolFlag && !strings.HasPrefix(text, "=") {
				p.bools[canon] = true
				continue
			}
			value, hasValue := text, text != ""
			if long && hasValue {
				value = value[1:]
			}
			if !hasValue && len(rest) > 0 {
				value, rest, hasValue = rest[0], rest[1:], true
			}
			if !hasValue {
				return nil, fmt.Errorf("flag needs an argument: %s", flagWithMinus(name))
			}
			if err := p.setValue(d, canon, value, lookup); err != nil {
				return nil, fmt.Errorf("invalid value %q for flag %s: %v", value, flagWithMinus(name), err)
			}
		}
	}
	return p, nil
}

func (p *parsedFlags) setValue(d *flagDef, canon, value string, lookup func(int) *Relation) error {
	switch d.kind {
	case boolFlag:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return err
		}
		p.bools[canon] = b
	case relationFlag:
		text := value
		if i := strings.LastIndex(text, ":"); i >= 0 {
			text = text[i+1:]
		}
		id, err := strconv.Atoi(text)
		if err != nil {
			return fmt.Errorf("invalid relation id")
		}
		r := lookup(id)
		if r == nil {
			return fmt.Errorf("relation not found")
		}
		p.relation = r
	case formatFlag:
		formats := d.formats
		if formats == nil {
			formats = []string{"json", "smart", "yaml"}
		}
		found := false
		for _, f := range formats {
			found = found || f == value
		}
		if !found {
			return fmt.Errorf("unknown format %q", value)
		}
		p.strs[canon] = value
	default:
		p.strs[canon] = value
	}
	return nil
}

func flagWithMinus(name string) string {
	if utf8.RuneCountInString(name) > 1 {
		return "--" + name
	}
	return "-" + name
}
