package pyroscope

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// Option names, as in the charm's config.yaml.
const (
	OptionRetentionPeriod = "retention_period"
	OptionDeletionDelay   = "deletion_delay"
	OptionCleanupInterval = "cleanup_interval"
)

// Option defaults.
const (
	DefaultRetentionPeriod = "1d"
	DefaultDeletionDelay   = "12h"
	DefaultCleanupInterval = "15m"
)

// durationPattern is the syntax the reference charm accepts for the three
// options: "0", or a number and one unit. It is compiled when first used,
// not at every hook's start.
var durationPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(0|[0-9]+(y|w|d|h|m|s|ms))$`)
})

// unitLength is the length of each unit, as Prometheus' model.Duration
// (which parses retention_period) counts them: a year is 365 days.
var unitLength = map[string]time.Duration{
	"y":  365 * 24 * time.Hour,
	"w":  7 * 24 * time.Hour,
	"d":  24 * time.Hour,
	"h":  time.Hour,
	"m":  time.Minute,
	"s":  time.Second,
	"ms": time.Millisecond,
}

// Options are Pyroscope's data clean-up options, validated.
type Options struct {
	// RetentionPeriod is how long blocks are kept ("1d", or "0" for ever).
	RetentionPeriod string
	// DeletionDelay is how long a block marked for deletion waits ("12h",
	// or "0" for no delay).
	DeletionDelay string
	// CleanupInterval is how often the compactor cleans up ("15m").
	CleanupInterval string
}

// DefaultOptions are the options of a charm with no config set.
func DefaultOptions() Options {
	return Options{RetentionPeriod: DefaultRetentionPeriod, DeletionDelay: DefaultDeletionDelay, CleanupInterval: DefaultCleanupInterval}
}

// DisabledCleanup are the options rendered while any option is invalid:
// nothing is deleted, so that a mistyped option cannot lose data.
func DisabledCleanup() Options {
	return Options{RetentionPeriod: "0", DeletionDelay: "0", CleanupInterval: DefaultCleanupInterval}
}

// ParseOptions reads the options from the config-get map. It returns the
// options to render and the sorted names of the invalid ones; when any is
// invalid, the options returned are DisabledCleanup, whatever the others
// say, as the reference charm does.
func ParseOptions(config map[string]any) (Options, []string) {
	opts := DefaultOptions()
	var invalid []string
	for _, o := range []struct {
		name string
		dst  *string
		// zeroOK is false where Pyroscope cannot run with a zero duration.
		zeroOK bool
	}{
		{OptionRetentionPeriod, &opts.RetentionPeriod, true},
		{OptionDeletionDelay, &opts.DeletionDelay, true},
		// A zero clean-up interval makes the compactor's ticker panic.
		{OptionCleanupInterval, &opts.CleanupInterval, false},
	} {
		raw, ok := config[o.name]
		if !ok || raw == nil {
			continue
		}
		s, isString := raw.(string)
		d, err := parseDuration(s)
		if !isString || err != nil || (d == 0 && !o.zeroOK) {
			invalid = append(invalid, o.name)
			continue
		}
		*o.dst = s
	}
	if len(invalid) > 0 {
		slices.Sort(invalid)
		return DisabledCleanup(), invalid
	}
	return opts, nil
}

// parseDuration checks s against the option syntax and returns its length.
// Lengths that overflow a Go time.Duration (about 292 years), which
// Pyroscope parses every option into, are refused.
func parseDuration(s string) (time.Duration, error) {
	if !durationPattern().MatchString(s) {
		return 0, fmt.Errorf("%q is not a duration such as 12h, 15m or 1d", s)
	}
	if s == "0" {
		return 0, nil
	}
	digits := strings.TrimRight(s, "ywdhms")
	unit := unitLength[s[len(digits):]]
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("%q is too long", s)
	}
	return time.Duration(n) * unit, nil
}

// invalidStatus is the status of invalid options: their names in a Python
// list, as the reference charm shows them.
func invalidStatus(names []string) coordinator.Status {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "'" + n + "'"
	}
	return coordinator.Status{
		Level:   coordinator.Blocked,
		Message: "[config] The following configurations are not valid: [" + strings.Join(quoted, ", ") + "]",
	}
}

// modelDuration renders an option for a Prometheus model.Duration field
// (limits.compactor_blocks_retention_period), which takes every unit of
// the option syntax: "0" becomes the integer 0, the rest is kept.
func modelDuration(s string) any {
	if s == "0" {
		return 0
	}
	return s
}

// goDuration renders an option for a Go time.Duration field (the
// compactor's deletion_delay and cleanup_interval). Go durations have no
// d, w or y unit, so those are turned into hours ("1d" → "24h"): the
// reference charm rendered them as typed and Pyroscope refused to start.
// "0" becomes the integer 0, which Pyroscope's YAML library accepts.
func goDuration(s string) any {
	if s == "0" {
		return 0
	}
	d, err := parseDuration(s)
	if err != nil {
		return s // unreachable: options are validated
	}
	switch unit := strings.TrimLeft(s, "0123456789"); unit {
	case "y", "w", "d":
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	default:
		return s
	}
}
