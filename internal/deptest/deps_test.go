package deptest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tempo-coordinator/coordinator"

// pebblePrefix is every package of the Pebble module, its client included.
const pebblePrefix = "github.com/canonical/pebble/"

// corePackages is the pure core: no I/O, no processes, no contexts, no
// Pebble. What the charm does to the world happens in internal/charm and
// internal/workload, from the core's Desired.
const corePackages = "./internal/coordinator/..."

// coreForbidden are the imports the core must not make itself.
var coreForbidden = []string{"os", "os/exec", "io", "io/ioutil", "context", "net/http", "syscall"}

// pebbleUser is the only package that may import Pebble.
const pebbleUser = module + "/internal/workload"

type listedPackage struct {
	ImportPath string
	Standard   bool
	Imports    []string
}

// goList runs `go list -deps -json` on the patterns (non-test code).
func goList(t *testing.T, patterns ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps", "-json"}, patterns...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("go list: %v\n%s", err, exit.Stderr)
	}
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// coreViolations lists the core's forbidden imports: a forbidden standard
// package imported by one of the module's packages the core depends on
// (the standard library's own imports do not count: fmt imports os), or
// Pebble anywhere in the core's dependencies.
func coreViolations(pkgs []listedPackage) []string {
	var out []string
	for _, p := range pkgs {
		if strings.HasPrefix(p.ImportPath, pebblePrefix) {
			out = append(out, "the core depends on "+p.ImportPath)
		}
		if !strings.HasPrefix(p.ImportPath, module+"/") {
			continue
		}
		for _, imp := range p.Imports {
			if slices.Contains(coreForbidden, imp) {
				out = append(out, fmt.Sprintf("%s imports %s", p.ImportPath, imp))
			}
		}
	}
	return out
}

// pebbleViolations lists the module's packages, other than the workload
// adapter, that import Pebble.
func pebbleViolations(pkgs []listedPackage) []string {
	var out []string
	for _, p := range pkgs {
		if !strings.HasPrefix(p.ImportPath, module+"/") || p.ImportPath == pebbleUser {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, pebblePrefix) {
				out = append(out, fmt.Sprintf("%s imports %s", p.ImportPath, imp))
			}
		}
	}
	return out
}

// TestCoreImportsNoIO: internal/coordinator/... stays pure.
func TestCoreImportsNoIO(t *testing.T) {
	pkgs := goList(t, corePackages)
	if len(pkgs) == 0 {
		t.Fatal("go list found no package")
	}
	for _, v := range coreViolations(pkgs) {
		t.Errorf("architecture rule broken: %s (the core is pure: see internal/coordinator/doc.go)", v)
	}
}

// TestOnlyWorkloadImportsPebble: Pebble is reached through internal/workload.
func TestOnlyWorkloadImportsPebble(t *testing.T) {
	for _, v := range pebbleViolations(goList(t, "./...")) {
		t.Errorf("architecture rule broken: %s (only %s may import Pebble)", v, pebbleUser)
	}
}

// TestRulesCatchViolations feeds the rules packages that break them, so
// that a rule that can no longer fail is noticed.
func TestRulesCatchViolations(t *testing.T) {
	pkgs := []listedPackage{
		{ImportPath: module + "/internal/coordinator/tempo", Imports: []string{"fmt", "os"}},
		{ImportPath: module + "/internal/coordinator", Imports: []string{"context"}},
		{ImportPath: "fmt", Standard: true, Imports: []string{"os"}},
		{ImportPath: pebblePrefix + "client"},
		{ImportPath: module + "/internal/charm", Imports: []string{pebblePrefix + "client"}},
		{ImportPath: pebbleUser, Imports: []string{pebblePrefix + "client"}},
	}
	core := coreViolations(pkgs)
	if len(core) != 3 {
		t.Errorf("core rule found %q, want the tempo os import, the coordinator context import and Pebble", core)
	}
	if got := pebbleViolations(pkgs); !slices.Equal(got, []string{module + "/internal/charm imports " + pebblePrefix + "client"}) {
		t.Errorf("pebble rule found %q", got)
	}
}
