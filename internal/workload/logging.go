package workload

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/canonical/pebble/client"
	"gopkg.in/yaml.v3"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// LogTarget is a log-targets entry of a Layer: where Pebble forwards the
// logs of the listed services.
type LogTarget struct {
	Override string            `yaml:"override,omitempty"`
	Type     string            `yaml:"type"`
	Location string            `yaml:"location"`
	Services []string          `yaml:"services"`
	Labels   map[string]string `yaml:"labels,omitempty"`
}

// Log forwarding constants.
const (
	// LogTargetType is the only target type the charm writes.
	LogTargetType = "loki"
	// removedLocation marks a target the charm switched off: Pebble has no
	// way to delete a target from a layer, so it is replaced with one that
	// forwards no service.
	removedLocation = "(removed)"
)

// LogForwardingLabel is the label of the layer holding a container's log
// targets.
func LogForwardingLabel(container string) string { return container + "-log-forwarding" }

// LogForwardingLayer is the layer that makes every service of a container
// forward its logs to exactly the targets given: each target pushes every
// service's logs to its Loki with its labels; every other Loki target of
// the current plan (one of a Loki unit that left) is replaced with a
// target that forwards nothing.
func LogForwardingLayer(targets []coordinator.LogTarget, current map[string]LogTarget) Layer {
	l := Layer{
		Summary:    "log forwarding",
		LogTargets: map[string]LogTarget{},
	}
	for _, t := range targets {
		l.LogTargets[t.Name] = LogTarget{
			Override: "replace", Type: LogTargetType, Location: t.URL,
			Services: []string{"all"}, Labels: maps.Clone(t.Labels),
		}
	}
	for name, t := range current {
		if _, keep := l.LogTargets[name]; keep || t.Type != LogTargetType || removed(t) {
			continue
		}
		l.LogTargets[name] = LogTarget{Override: "replace", Type: LogTargetType, Location: removedLocation, Services: []string{"-all"}}
	}
	return l
}

// removed reports whether a target forwards nothing.
func removed(t LogTarget) bool {
	return t.Location == removedLocation || slices.Equal(t.Services, []string{"-all"})
}

// ApplyLogTargets makes the container forward every service's logs to
// exactly the given Loki targets (none: forwarding stops). It reads the
// plan and adds a layer only when a target is missing, differs or must be
// switched off; log targets take effect without a replan.
func (c *Container) ApplyLogTargets(ctx context.Context, label string, targets []coordinator.LogTarget) (changed bool, err error) {
	changed, err = c.applyLogTargets(ctx, label, targets)
	return changed, notReady(err)
}

func (c *Container) applyLogTargets(ctx context.Context, label string, targets []coordinator.LogTarget) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("cannot read pebble plan: %w", err)
	}
	raw, err := c.api.PlanBytes(nil)
	if err != nil {
		return false, fmt.Errorf("cannot read pebble plan: %w", err)
	}
	var plan Layer
	if err := yaml.Unmarshal(raw, &plan); err != nil {
		return false, fmt.Errorf("cannot parse pebble plan: %w", err)
	}
	l := LogForwardingLayer(targets, plan.LogTargets)
	if !logTargetsDiffer(l.LogTargets, plan.LogTargets) {
		return false, nil
	}
	data, err := l.YAML()
	if err != nil {
		return false, err
	}
	if err := c.api.AddLayer(&client.AddLayerOptions{Combine: true, Label: label, LayerData: data}); err != nil {
		return false, fmt.Errorf("cannot add layer %q: %w", label, err)
	}
	return true, nil
}

// logTargetsDiffer reports whether any wanted target is missing from the
// plan or differs from it (the override field is not part of the plan).
func logTargetsDiffer(want, plan map[string]LogTarget) bool {
	for name, w := range want {
		got, ok := plan[name]
		if !ok {
			return true
		}
		w.Override, got.Override = "", ""
		if len(w.Labels) == 0 {
			w.Labels = nil
		}
		if len(got.Labels) == 0 {
			got.Labels = nil
		}
		if !reflect.DeepEqual(w, got) {
			return true
		}
	}
	return false
}
