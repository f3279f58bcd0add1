// Command charmpack packs the coordinator charms the way charmcraft lays
// them out, without charmcraft: a zip with the dispatch binary, the charm's
// YAML files, a manifest.yaml and the src/ assets. The charms, their
// directories and assets are products.Charms().
//
//	go run ./tools/charmpack -dispatch build/dispatch -out-dir build          # every charm
//	go run ./tools/charmpack -dispatch build/dispatch -charm tempo-coordinator-k8s -out x.charm
package main

import (
	"archive/zip"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/products"
)

func main() {
	dispatch := flag.String("dispatch", "", "the built dispatch binary")
	outDir := flag.String("out-dir", "", "pack every charm into this directory")
	charm := flag.String("charm", "", "pack only this charm (its metadata.yaml name) ...")
	out := flag.String("out", "", "... into this .charm file")
	flag.Parse()
	if *dispatch == "" || (*outDir == "") == (*charm == "" || *out == "") {
		flag.Usage()
		os.Exit(2)
	}
	if err := packCharms(*dispatch, *outDir, *charm, *out); err != nil {
		fmt.Fprintf(os.Stderr, "charmpack: %v\n", err)
		os.Exit(1)
	}
}

// packCharms packs every charm into outDir, or only the one named charm
// into out. Paths are relative to the repository root, where make runs.
func packCharms(dispatch, outDir, charm, out string) error {
	found := false
	for _, c := range products.Charms() {
		dest := filepath.Join(outDir, c.Product.CharmName+"_ubuntu@24.04-amd64.charm")
		if charm != "" {
			if c.Product.CharmName != charm {
				continue
			}
			dest = out
		}
		found = true
		if err := pack(dispatch, c.Dir, c.Assets, dest); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("no charm %q in products.Charms()", charm)
	}
	return nil
}

// manifest is what charmcraft writes: Juju reads the bases to know where
// the charm may be deployed.
const manifest = `bases:
- architectures:
  - amd64
  channel: '24.04'
  name: ubuntu
charmcraft-started-at: '%s'
charmcraft-version: charmpack
`

func pack(dispatch, charmDir, assets, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("cannot create output directory: %w", err)
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", tmp, err)
	}
	defer os.Remove(tmp)
	zw := zip.NewWriter(f)
	add := func(name, src string, mode fs.FileMode) error {
		in, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("cannot pack %s: %w", name, err)
		}
		defer in.Close()
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Unix(0, 0).UTC()}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("cannot pack %s: %w", name, err)
		}
		_, err = io.Copy(w, in)
		return err
	}
	if err := add("dispatch", dispatch, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"metadata.yaml", "config.yaml", "actions.yaml"} {
		if err := add(name, filepath.Join(charmDir, name), 0o644); err != nil {
			return err
		}
	}
	if assets != "" {
		err := filepath.WalkDir(assets, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
				return err
			}
			rel, _ := filepath.Rel(assets, p)
			return add("src/"+filepath.ToSlash(rel), p, 0o644)
		})
		if err != nil {
			return fmt.Errorf("cannot pack assets: %w", err)
		}
	}
	h := &zip.FileHeader{Name: "manifest.yaml", Method: zip.Deflate, Modified: time.Unix(0, 0).UTC()}
	h.SetMode(0o644)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("cannot pack manifest.yaml: %w", err)
	}
	fmt.Fprintf(w, manifest, time.Now().UTC().Format(time.RFC3339))
	if err := zw.Close(); err != nil {
		return fmt.Errorf("cannot finish %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot finish %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}
