package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// runScaleOut adds units to the largest cluster of sizeList through the
// hooks Juju fires, with each binary in turn, and prints the totals.
func runScaleOut(binaries []string, shim, charmDir, sizeList string, added int) error {
	fmt.Printf("Scale-out: %d worker units added one by one (relation-joined + relation-changed each).\n\n", added)
	fmt.Println("| binary | base units | hooks | hook-tool calls | relation-get | state-set bytes | unit state at the end | own CPU | wall |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, dispatch := range binaries {
		sizes, config, r, err := setup(dispatch, shim, charmDir, sizeList)
		if err != nil {
			return err
		}
		size := sizes[len(sizes)-1]
		s, err := r.RunScaleOut(size, config, added)
		r.Close()
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %d | %d | %d | %d | %d | %d | %v | %v |\n", filepath.Base(dispatch), s.Base, s.Hooks,
			s.TotalCalls(), s.Calls["relation-get"], s.StateBytes, s.StateSize, s.Own.Round(time.Millisecond), s.Wall.Round(time.Millisecond))
		var byTool []string
		for _, tool := range slices.Sorted(maps.Keys(s.Calls)) {
			byTool = append(byTool, fmt.Sprintf("%s %d", tool, s.Calls[tool]))
		}
		fmt.Printf("\n%s: %s\n\n", filepath.Base(dispatch), strings.Join(byTool, ", "))
	}
	return nil
}
