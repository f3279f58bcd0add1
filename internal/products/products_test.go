package products

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCharmName(t *testing.T) {
	for _, c := range []struct {
		metadata string
		want     string
		ok       bool
	}{
		{"name: tempo-coordinator-k8s\nassumes: [k8s-api]\n", "tempo-coordinator-k8s", true},
		{"# the coordinator\nname: \"pyroscope-coordinator-k8s\"\n", "pyroscope-coordinator-k8s", true},
		{"name: 'tempo-coordinator-k8s' # quoted\n", "tempo-coordinator-k8s", true},
		{"name: tempo-coordinator-k8s   # comment\r\n", "tempo-coordinator-k8s", true},
		{"requires:\n  s3:\n    name: not-top-level\n", "", false},
		{"name:\n", "", false},
		{"name: \"unterminated\n", "", false},
		{"", "", false},
	} {
		got, ok := charmName([]byte(c.metadata))
		if got != c.want || ok != c.ok {
			t.Errorf("charmName(%q) = %q, %v; want %q, %v", c.metadata, got, ok, c.want, c.ok)
		}
	}
}

func TestFromCharmDir(t *testing.T) {
	// The charms this repository packs.
	for _, c := range Charms() {
		dir := filepath.Join("../..", c.Dir)
		p, err := FromCharmDir(dir)
		if err != nil || p.Name != c.Product.Name {
			t.Errorf("FromCharmDir(%s) = %v, %v; want %s", dir, p, err, c.Product.Name)
		}
		if _, err := os.Stat(filepath.Join("../..", c.Assets)); err != nil {
			t.Errorf("charm %s: assets: %v", c.Product.CharmName, err)
		}
	}
	dir := t.TempDir()
	if _, err := FromCharmDir(dir); err == nil {
		t.Error("no metadata.yaml: no error")
	}
	os.WriteFile(filepath.Join(dir, "metadata.yaml"), []byte("name: loki-coordinator-k8s\n"), 0o644)
	if _, err := FromCharmDir(dir); err == nil {
		t.Error("another charm: no error")
	}
	if _, err := FromCharmDir(""); err == nil {
		t.Error("JUJU_CHARM_DIR unset: no error")
	}
}
