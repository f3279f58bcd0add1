// Package props checks the properties every artefact the charm renders
// must have, whatever the relation data it was computed from: nginx.conf
// parses into the statements the renderer can emit (nothing injected), the
// worker YAML re-parses to the same tree with no key taken from a value,
// and secrets stay in their place. Fuzz targets and the random-history
// test share it.
package props

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// Marker is the text hostile seeds embed in their values; it may reach
// nginx.conf only inside a validated host name, and never a YAML key.
const Marker = "INJECTED"

// Token is one nginx.conf token.
type Token struct {
	Text   string
	Quoted bool
}

// Statement is one nginx.conf directive or block opening.
type Statement struct {
	// Parents are the names of the enclosing blocks, outermost first.
	Parents []string
	Name    Token
	Args    []Token
	Block   bool
}

// LexNginx splits nginx.conf into statements the way nginx's parser does
// for the subset the renderer uses: bare tokens, single- or double-quoted
// tokens with backslash escapes, ';' ending a directive, '{' and '}'
// around blocks. Comments are an error: the renderer never writes one, so
// a '#' outside quotes was injected.
func LexNginx(conf string) ([]Statement, error) {
	var (
		out     []Statement
		stack   []string
		pending []Token
	)
	for i := 0; i < len(conf); {
		c := conf[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			return nil, fmt.Errorf("offset %d: a comment", i)
		case c == ';' || c == '{':
			if len(pending) == 0 {
				return nil, fmt.Errorf("offset %d: %q with no directive", i, c)
			}
			st := Statement{Parents: slices.Clone(stack), Name: pending[0], Args: pending[1:], Block: c == '{'}
			out = append(out, st)
			if c == '{' {
				stack = append(stack, pending[0].Text)
			}
			pending = nil
			i++
		case c == '}':
			if len(pending) > 0 || len(stack) == 0 {
				return nil, fmt.Errorf("offset %d: unexpected '}'", i)
			}
			stack = stack[:len(stack)-1]
			i++
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(conf) && conf[j] != c; j++ {
				if conf[j] == '\\' && j+1 < len(conf) {
					j++
				}
				b.WriteByte(conf[j])
			}
			if j >= len(conf) {
				return nil, fmt.Errorf("offset %d: unterminated quote", i)
			}
			pending = append(pending, Token{Text: b.String(), Quoted: true})
			i = j + 1
		default:
			j := i
			for j < len(conf) && !strings.ContainsRune(" \t\n\r;{}'\"#", rune(conf[j])) {
				j++
			}
			pending = append(pending, Token{Text: conf[i:j]})
			i = j
		}
	}
	if len(pending) > 0 || len(stack) > 0 {
		return nil, fmt.Errorf("unterminated statement or block")
	}
	return out, nil
}

// vocabulary is what the renderer emits with trusted input: every
// directive name and every quoted token of the golden nginx.conf files.
type vocabulary struct {
	names  map[string]bool
	quoted map[string]bool
}

var goldenVocabulary = sync.OnceValues(func() (vocabulary, error) {
	v := vocabulary{names: map[string]bool{}, quoted: map[string]bool{}}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "coordinator", "testdata", "nginx")
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil || len(files) == 0 {
		return v, fmt.Errorf("no golden nginx.conf in %s: %v", dir, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return v, err
		}
		sts, err := LexNginx(string(raw))
		if err != nil {
			return v, fmt.Errorf("%s: %w", f, err)
		}
		for _, st := range sts {
			v.names[st.Name.Text] = true
			for _, tok := range append([]Token{st.Name}, st.Args...) {
				if tok.Quoted {
					v.quoted[tok.Text] = true
				}
			}
		}
	}
	return v, nil
})

// CheckNginx checks a rendered nginx.conf: it lexes; every directive is
// one the renderer emits for trusted input (the golden files); no token
// needs quoting except those of the goldens; every upstream server is
// host:port with host one of workers (validated addresses); the marker
// appears only inside a host name; no control character.
func CheckNginx(conf []byte, workers []string) error {
	vocab, err := goldenVocabulary()
	if err != nil {
		return err
	}
	for i, c := range conf {
		if c < ' ' && c != '\n' || c == 0x7f {
			return fmt.Errorf("control character %#x at offset %d", c, i)
		}
	}
	sts, err := LexNginx(string(conf))
	if err != nil {
		return fmt.Errorf("nginx.conf does not lex: %w", err)
	}
	for _, st := range sts {
		if !vocab.names[st.Name.Text] {
			return fmt.Errorf("directive %q is not one the renderer emits", st.Name.Text)
		}
		hostArg := false
		switch {
		case st.Name.Text == "server" && !st.Block:
			if len(st.Parents) == 0 || st.Parents[len(st.Parents)-1] != "upstream" || len(st.Args) == 0 {
				return fmt.Errorf("server directive outside an upstream: %v", st)
			}
			host, port, err := net.SplitHostPort(st.Args[0].Text)
			if err != nil || !coordinator.ValidHost(host) || !validPort(port) {
				return fmt.Errorf("upstream server %q is not a valid host:port", st.Args[0].Text)
			}
			if !slices.Contains(workers, host) {
				return fmt.Errorf("upstream server %q is not a worker address", st.Args[0].Text)
			}
			hostArg = true
		case st.Name.Text == "server_name" || st.Name.Text == "resolver":
			for _, a := range st.Args {
				if !coordinator.ValidHost(strings.Trim(a.Text, "[]")) {
					return fmt.Errorf("%s %q is not a valid host", st.Name.Text, a.Text)
				}
			}
			hostArg = true
		}
		for _, tok := range append([]Token{st.Name}, st.Args...) {
			if tok.Quoted && !vocab.quoted[tok.Text] {
				return fmt.Errorf("quoted token %q in %s: untrusted text needed quoting", tok.Text, st.Name.Text)
			}
			if strings.Contains(tok.Text, Marker) && !hostArg {
				return fmt.Errorf("the marker reached nginx.conf in %s %q", st.Name.Text, tok.Text)
			}
		}
	}
	return nil
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535 && strconv.Itoa(n) == s
}

// yamlKeyRE is what a key of a workload config may look like.
var yamlKeyRE = regexp.MustCompile(`^[A-Za-z0-9_./-]{1,100}$`)

// CheckWorkerYAML checks a rendered workload config: it parses; rendering
// the parsed tree again gives a tree equal to it; every map key looks like
// a config key (a value that escaped into a key would not) and holds no
// marker; secret (when not "") appears only in values under a key naming a
// secret.
func CheckWorkerYAML(raw []byte, secret string) error {
	if !utf8.Valid(raw) {
		return fmt.Errorf("worker config is not UTF-8")
	}
	var tree any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		return fmt.Errorf("worker config does not parse: %w", err)
	}
	again, err := coordinator.RenderYAML(tree)
	if err != nil {
		return err
	}
	var tree2 any
	if err := yaml.Unmarshal(again, &tree2); err != nil {
		return fmt.Errorf("re-rendered worker config does not parse: %w", err)
	}
	if !reflect.DeepEqual(tree, tree2) {
		return fmt.Errorf("worker config does not re-parse to the same tree")
	}
	return walkYAML(tree, "", secret)
}

func walkYAML(node any, key, secret string) error {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if !yamlKeyRE.MatchString(k) || strings.Contains(k, Marker) {
				return fmt.Errorf("unexpected key %q under %q", k, key)
			}
			if err := walkYAML(v, k, secret); err != nil {
				return err
			}
		}
	case map[any]any:
		return fmt.Errorf("non-string key under %q", key)
	case []any:
		for _, v := range n {
			if err := walkYAML(v, key, secret); err != nil {
				return err
			}
		}
	case string:
		if secret != "" && strings.Contains(n, secret) && !strings.Contains(strings.ToLower(key), "secret") {
			return fmt.Errorf("the secret appears under %q", key)
		}
	}
	return nil
}

// CheckText checks a log line or a status message: one line, no control
// character, valid UTF-8, and no secret.
func CheckText(s, secret string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not UTF-8", s)
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("control character in %q", s)
		}
	}
	if secret != "" && strings.Contains(s, secret) {
		return fmt.Errorf("the secret appears in %q", s)
	}
	return nil
}
