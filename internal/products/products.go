// Package products lists the products the coordinator engine knows, with
// the charm each is packed as, and picks the one a packed charm is for.
// Charms is the one list: the binary, `make charm` (tools/charmpack),
// tests/charm and the `render` preview all read it, so adding a product
// (Loki, Mimir) is one line there.
package products

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/pyroscope"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// Charm is a coordinator charm this repository packs.
type Charm struct {
	Product *coordinator.Product
	// Dir is the charm's source directory (metadata.yaml, config.yaml,
	// actions.yaml), relative to the repository root.
	Dir string
	// Assets is the directory packed as the charm's src/ (dashboards,
	// alert rules), relative to the repository root.
	Assets string
}

// Charms lists every coordinator charm, in packing order.
func Charms() []Charm {
	return []Charm{
		{Product: tempo.Product(), Dir: ".", Assets: "src"},
		{Product: pyroscope.Product(), Dir: "charms/pyroscope-coordinator-k8s", Assets: "charms/pyroscope-coordinator-k8s/src"},
	}
}

// All returns every known product.
func All() []*coordinator.Product {
	var all []*coordinator.Product
	for _, c := range Charms() {
		all = append(all, c.Product)
	}
	return all
}

// Names lists the known products' names.
func Names() []string {
	var names []string
	for _, p := range All() {
		names = append(names, p.Name)
	}
	return names
}

// ByName returns the product called name ("tempo"); "" means tempo.
func ByName(name string) (*coordinator.Product, error) {
	if name == "" {
		name = "tempo"
	}
	for _, p := range All() {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("unknown product %q: want one of %s", name, strings.Join(Names(), ", "))
}

// ByCharmName returns the product of the charm called name
// ("tempo-coordinator-k8s").
func ByCharmName(name string) (*coordinator.Product, error) {
	for _, p := range All() {
		if p.CharmName == name {
			return p, nil
		}
	}
	var charms []string
	for _, p := range All() {
		charms = append(charms, p.CharmName)
	}
	slices.Sort(charms)
	return nil, fmt.Errorf("charm %q is not one this binary drives (%s)", name, strings.Join(charms, ", "))
}

// FromCharmDir reads the packed charm's metadata.yaml and returns the
// product it is for: one binary serves every coordinator charm.
func FromCharmDir(dir string) (*coordinator.Product, error) {
	if dir == "" {
		return nil, fmt.Errorf("cannot find the charm: JUJU_CHARM_DIR is not set")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "metadata.yaml"))
	if err != nil {
		return nil, fmt.Errorf("cannot read the charm's metadata: %w", err)
	}
	name, ok := charmName(raw)
	if !ok {
		return nil, fmt.Errorf("cannot find the charm's name in its metadata.yaml")
	}
	return ByCharmName(name)
}

// charmName finds the top-level "name:" of a metadata.yaml. Every hook
// needs it, and the file is the one this project packs, so a line scan
// does instead of a YAML parse (about 0.2 ms of CPU in a fresh process);
// it accepts a plain, single- or double-quoted scalar, with or without a
// trailing comment.
func charmName(metadata []byte) (string, bool) {
	for line := range strings.Lines(string(metadata)) {
		value, ok := strings.CutPrefix(line, "name:")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') {
			end := strings.IndexByte(value[1:], value[0])
			if end < 0 {
				return "", false
			}
			return value[1 : end+1], true
		}
		if i := strings.Index(value, " #"); i >= 0 {
			value = strings.TrimSpace(value[:i])
		}
		return value, value != ""
	}
	return "", false
}
