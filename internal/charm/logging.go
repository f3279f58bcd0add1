package charm

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// stateLogTargetsPrefix + "<container>" records the log targets last
// applied to a container: its Pebble boot ID and a digest of the targets,
// so an unchanged hook does not even read the plan.
const stateLogTargetsPrefix = "log-targets:"

// applyLogTargets makes a container forward its logs to the desired Loki
// targets. A failure is logged and retried by the next hook (the record
// is not updated); it never fails the hook.
func (c *Charm) applyLogTargets(ctx context.Context, o *observation, name string, ctr Container, targets []coordinator.LogTarget, newState map[string]string) {
	key := stateLogTargetsPrefix + name
	prev, known := o.state[key]
	if !known && len(targets) == 0 {
		return // never forwarded, nothing to switch off
	}
	raw, _ := json.Marshal(targets)
	digest, _ := digestOf(map[string]string{"targets": string(raw)})
	record := ctr.BootID() + " " + digest
	if prev == record {
		newState[key] = record
		return
	}
	if err := ctr.ApplyLogTargets(ctx, targets); err != nil {
		c.logf("%s: cannot set log forwarding: %v", name, err)
		return
	}
	newState[key] = record
}

// DirAssets reads the charm's assets from dir (the packed charm's src/):
// every file under the directories coordinator.AssetDirs names. A missing
// directory holds no assets.
func DirAssets(dir string) func() (coordinator.Assets, error) {
	return func() (coordinator.Assets, error) {
		assets := coordinator.Assets{}
		for _, sub := range coordinator.AssetDirs {
			root := filepath.Join(dir, sub)
			err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
				if err != nil {
					if p == root && os.IsNotExist(err) {
						return fs.SkipDir
					}
					return err
				}
				if !e.Type().IsRegular() {
					return nil
				}
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				rel, err := filepath.Rel(dir, p)
				if err != nil {
					return err
				}
				assets[path.Clean(filepath.ToSlash(rel))] = data
				return nil
			})
			if err != nil {
				return assets, fmt.Errorf("cannot read %s: %w", root, err)
			}
		}
		return assets, nil
	}
}
