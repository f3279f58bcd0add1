package tempo

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// RemoteWriteEndpoint is the endpoint over which Prometheus-compatible
// stores (prometheus_remote_write) give the metrics-generator where to push
// the metrics it derives from spans.
const RemoteWriteEndpoint = "send-remote-write"

// maxRemoteWriteBytes bounds one unit's remote_write value; larger values
// are ignored unread.
const maxRemoteWriteBytes = 4096

// RemoteWriteURLs collects the valid remote-write URLs from every unit of
// the send-remote-write relations (unit key remote_write = {"url": ...}),
// sorted and de-duplicated, with one warning per unit whose value was
// ignored.
func RemoteWriteURLs(relations []coordinator.Relation) (urls, warnings []string) {
	for _, rel := range relations {
		// Sorted units: the warnings must not depend on map order.
		for _, unit := range slices.Sorted(maps.Keys(rel.Units)) {
			raw, ok := rel.Units[unit]["remote_write"]
			if !ok {
				continue
			}
			var v struct {
				URL string `json:"url"`
			}
			if len(raw) > maxRemoteWriteBytes || json.Unmarshal([]byte(raw), &v) != nil || !coordinator.ValidURL(v.URL) {
				warnings = append(warnings, "ignoring invalid remote_write from "+unit)
				continue
			}
			urls = append(urls, v.URL)
		}
	}
	slices.Sort(urls)
	return slices.Compact(urls), warnings
}
