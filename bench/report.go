package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Case is one measured case: a hook on a cluster size, as the first hook
// on a fresh model (everything to write) or as an unchanged second hook,
// repeated.
type Case struct {
	Size   Size
	Hook   string
	Second bool
	Runs   []*Result
}

// Run names the case's run ("first" or "second").
func (c *Case) Run() string {
	if c.Second {
		return "second"
	}
	return "first"
}

// Deterministic reports whether every repetition made the same calls.
func (c *Case) Deterministic() bool {
	for _, r := range c.Runs[1:] {
		if !maps.Equal(r.Counts, c.Runs[0].Counts) || r.DatabagBytes != c.Runs[0].DatabagBytes {
			return false
		}
	}
	return true
}

func (c *Case) med(f func(*Result) time.Duration) time.Duration {
	var ds []time.Duration
	for _, r := range c.Runs {
		ds = append(ds, f(r))
	}
	return median(ds)
}

func (c *Case) medKB(f func(*Result) int64) int64 {
	var ds []time.Duration
	for _, r := range c.Runs {
		ds = append(ds, time.Duration(f(r)))
	}
	return int64(median(ds))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func mb(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)/1024) }

// ShortHook abbreviates the relation hook's name for tables.
func ShortHook(name string) string {
	return strings.Replace(name, "tempo-cluster-relation-changed", "cluster-rel-changed", 1)
}

// WriteTables writes the results as Markdown: the cost table, then the
// calls by tool against the minimum.
func WriteTables(w io.Writer, cases []*Case, cal Calibration) {
	fmt.Fprintln(w, "| units | apps | hook | run | calls | min | calls−min | wall ms | CPU ms (wait4) | tools CPU ms | **own CPU ms** | own CPU, wait4 − tools ms | own CPU at last call ms | own CPU excl. spawning ms | **peak RSS MB** | VmHWM at last call MB | databag bytes | state bytes |")
	fmt.Fprintln(w, "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range cases {
		r := c.Runs[0]
		flag := ""
		if !c.Deterministic() {
			flag = " (varies!)"
		}
		fmt.Fprintf(w, "| %d | %d | %s | %s | %d%s | %d | %+d | %s | %s | %s | **%s** | %s | %s | %s | **%s** | %s | %d | %d |\n",
			c.Size.Units, c.Size.Apps, ShortHook(c.Hook), c.Run(), len(r.Calls), flag, r.Minimum.Total(), len(r.Calls)-r.Minimum.Total(),
			ms(c.med(func(r *Result) time.Duration { return r.Wall })),
			ms(c.med(func(r *Result) time.Duration { return r.CPU })),
			ms(c.med(func(r *Result) time.Duration { return r.ToolsCPU() })),
			ms(c.med(func(r *Result) time.Duration { return r.OwnCPU(cal) })),
			ms(c.med(func(r *Result) time.Duration { return r.Wait4OwnCPU(cal) })),
			ms(c.med(func(r *Result) time.Duration { cpu, _ := r.CharmAtLastCall(); return cpu })),
			ms(c.med(func(r *Result) time.Duration { return r.OwnCompute(cal) })),
			mb(c.medKB(func(r *Result) int64 { return r.MaxRSSKB })),
			mb(c.medKB(func(r *Result) int64 { _, hwm := r.CharmAtLastCall(); return hwm })),
			r.DatabagBytes, r.StateBytes)
	}
	fmt.Fprintln(w)

	toolSet := map[string]bool{}
	for _, c := range cases {
		for t := range c.Runs[0].Counts {
			toolSet[t] = true
		}
		for t, n := range c.Runs[0].Minimum {
			if n > 0 {
				toolSet[t] = true
			}
		}
	}
	tools := slices.Sorted(maps.Keys(toolSet))
	fmt.Fprintf(w, "Hook-tool calls by tool, measured/minimum (a single number: not in the minimum):\n\n")
	fmt.Fprintf(w, "| units | hook | run | %s | beyond the minimum |\n", strings.Join(tools, " | "))
	fmt.Fprintf(w, "|---:|---|---|%s---|\n", strings.Repeat("---:|", len(tools)))
	for _, c := range cases {
		r := c.Runs[0]
		var cells []string
		for _, t := range tools {
			n, min := r.Counts[t], r.Minimum[t]
			_, inMin := r.Minimum[t]
			switch {
			case inMin:
				cells = append(cells, fmt.Sprintf("%d/%d", n, min))
			default:
				cells = append(cells, fmt.Sprintf("%d", n))
			}
		}
		var extra []string
		ex := r.Extra()
		for _, t := range slices.Sorted(maps.Keys(ex)) {
			extra = append(extra, fmt.Sprintf("%s %+d", t, ex[t]))
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s |\n", c.Size.Units, ShortHook(c.Hook), c.Run(), strings.Join(cells, " | "), strings.Join(extra, ", "))
	}
	fmt.Fprintln(w)
}

// WriteFloorTable compares the charm's unchanged update-status with the
// read floor (bench/cmd/readfloor: the same reads and nothing else) at
// each size: what is left is the cost of the charm's own logic.
func WriteFloorTable(w io.Writer, floors, cases []*Case, cal Calibration) {
	fmt.Fprintln(w, "| units | floor calls | floor own CPU ms | charm calls (second update-status) | charm own CPU ms | charm − floor ms | charm first update-status own CPU ms |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|")
	own := func(r *Result) time.Duration { return r.OwnCPU(cal) }
	for _, f := range floors {
		var first, second *Case
		for _, c := range cases {
			if c.Size == f.Size && c.Hook == f.Hook {
				if c.Second {
					second = c
				} else {
					first = c
				}
			}
		}
		if first == nil || second == nil {
			continue
		}
		fmt.Fprintf(w, "| %d | %d | %s | %d | %s | %+.1f | %s |\n", f.Size.Units, len(f.Runs[0].Calls), ms(f.med(own)),
			len(second.Runs[0].Calls), ms(second.med(own)),
			float64(second.med(own)-f.med(own))/float64(time.Millisecond), ms(first.med(own)))
	}
	fmt.Fprintln(w)
}
