package charm

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/juju"
)

// The observation cache keeps, in the unit's own state (state-set: committed
// with the hook's relation writes, and only when the hook exits 0), what the
// charm last read from every remote databag it depends on. A relation hook
// then reads only what the event is about and takes the rest from the cache,
// so its cost no longer grows with the number of worker units.
//
// Why the cached data is as fresh as a full read once every pending hook has
// run (the guarantees each shortcut relies on):
//
//   - A remote unit's or application's data changes → Juju queues a
//     <endpoint>-relation-changed for that unit (JUJU_REMOTE_UNIT) or that
//     application (JUJU_REMOTE_APP, no remote unit) on every unit of ours.
//     Changes may be coalesced, but the hook always sees the latest data
//     (Juju documentation, "relation-changed": "fired ... whenever the
//     remote unit changes its settings"; the uniter compares the settings
//     version it last delivered for each remote unit and application,
//     juju/juju worker/uniter/relation/statetracker.go and
//     worker/uniter/remotestate/watcher.go, relationUnitsChanged). The event's
//     databag is read fresh, so the cache is right again after that hook.
//   - A remote unit leaves → relation-departed (relation-list no longer lists
//     it, juju-platform.md §1.4); a relation goes → relation-broken. Both
//     before any later hook can see a different membership. Membership is
//     not cached anyway: relation-ids and relation-list run in every hook.
//   - A unit that joined but whose hooks have not run yet is listed by
//     relation-list without a cache entry: it is read fresh (no guarantee
//     holds for it yet).
//   - The cache is written only by hooks that exit 0, together with the
//     relation writes (Juju commits state-set and relation-set in one
//     transaction at the end of the hook, juju-platform.md §1.2): a failed
//     or killed hook leaves the previous cache, and Juju retries the hook.
//
// Full reads happen where no guarantee can be relied on: the unit's first
// hook (no cache), a cache of another format or whose digest does not match
// its entries (edited by hand, written by another revision), upgrade-charm
// (the new revision may read databags the old one did not), leader-elected
// (issue #23 asks for it: the leader publishes what every worker gets), and a
// periodic resync on update-status (option observation-resync-minutes), a
// safety net against anything unforeseen.
const (
	// stateCacheMeta holds "<format> <digest of the entries> <unix time of
	// the last full read>".
	stateCacheMeta = "obs"
	// stateCacheApp + "<endpoint>:<id>" holds a remote application's name
	// and databag: {"app": ..., "data": {...}}.
	stateCacheApp = "obs-app:"
	// stateCacheUnit + "<endpoint>:<id>:<unit>" holds a remote unit's databag.
	stateCacheUnit = "obs-unit:"
	cacheFormat    = "1"

	// Juju's charm state quotas (juju/juju core/quota: MaxCharmStateKeySize,
	// MaxCharmStateValueSize; controller max-charm-state-size, default
	// 2 MiB for all keys of a unit). An entry over the key or value limit is
	// not cached (it is read in every hook); a cache over cacheBudget is not
	// kept at all (full reads, said in the log).
	maxStateKey   = 256
	maxStateValue = 64 * 1024
	cacheBudget   = 1 << 20

	// ResyncOption is the config option giving the minutes between two full
	// reads on update-status.
	ResyncOption  = "observation-resync-minutes"
	defaultResync = 60 * time.Minute
	resyncReason  = "periodic resync"
)

// cachedApp is a remote application's cache entry.
type cachedApp struct {
	App  string            `json:"app"`
	Data map[string]string `json:"data,omitempty"`
}

// obsCache is the cache as read from the unit state at the hook's start.
type obsCache struct {
	// valid is false when the cache cannot be used (absent, other format,
	// digest mismatch); reason says why, for the log ("" for a first hook).
	valid  bool
	reason string
	// lastFull is when the last full read happened.
	lastFull time.Time
	apps     map[string]cachedApp         // by "endpoint:id"
	units    map[string]map[string]string // by "endpoint:id:unit"
}

// loadCache reads the cache entries from the unit state and checks them
// against the recorded digest.
func loadCache(state map[string]string) *obsCache {
	c := &obsCache{apps: map[string]cachedApp{}, units: map[string]map[string]string{}}
	meta, ok := state[stateCacheMeta]
	if !ok {
		return c
	}
	fields := strings.Fields(meta)
	if len(fields) != 3 || fields[0] != cacheFormat {
		c.reason = "the observation cache has another format"
		return c
	}
	if digest, _ := digestOf(cacheEntries(state)); digest != fields[1] {
		c.reason = "the observation cache does not match its digest"
		return c
	}
	secs, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil {
		c.reason = "the observation cache has no valid time"
		return c
	}
	c.lastFull = time.Unix(secs, 0)
	for key, raw := range state {
		if id, ok := strings.CutPrefix(key, stateCacheApp); ok {
			var app cachedApp
			if json.Unmarshal([]byte(raw), &app) != nil {
				c.reason = "the observation cache has an unreadable entry"
				return c
			}
			c.apps[id] = app
		} else if id, ok := strings.CutPrefix(key, stateCacheUnit); ok {
			var data map[string]string
			if json.Unmarshal([]byte(raw), &data) != nil {
				c.reason = "the observation cache has an unreadable entry"
				return c
			}
			c.units[id] = data
		}
	}
	c.valid = true
	return c
}

// cacheEntries returns the cache's entries among the state's keys.
func cacheEntries(state map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range state {
		if strings.HasPrefix(k, stateCacheApp) || strings.HasPrefix(k, stateCacheUnit) {
			out[k] = v
		}
	}
	return out
}

// fullReadReason says why this hook must read every databag, or "" when the
// cache may be used.
func (c *Charm) fullReadReason(hc *juju.Context, cache *obsCache, config map[string]any) string {
	switch {
	case !cache.valid && cache.reason == "":
		return "first read"
	case !cache.valid:
		return cache.reason
	case hc.Kind == juju.Hook && (hc.Name == "upgrade-charm" || hc.Name == "leader-elected"):
		return hc.Name
	case hc.Kind == juju.Hook && hc.Name == "update-status" && !c.now().Before(cache.lastFull.Add(c.resyncInterval(config))):
		return resyncReason
	}
	return ""
}

// resyncInterval reads the resync option; an invalid value (negative, not a
// number) falls back to the default with a log line.
func (c *Charm) resyncInterval(config map[string]any) time.Duration {
	v, ok := config[ResyncOption]
	if !ok {
		return defaultResync
	}
	n, ok := v.(float64) // config-get's JSON numbers
	if !ok || n < 0 || n != float64(int64(n)) || n > 1e6 {
		c.logf("ignoring invalid %s %v: using %v", ResyncOption, v, defaultResync)
		return defaultResync
	}
	return time.Duration(n) * time.Minute
}

func (c *Charm) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// freshness decides, for one relation, which databags are read now rather
// than taken from the cache.
type freshness struct {
	full  bool
	cache *obsCache
	event *juju.RelationContext
}

// app returns the cached application entry of a relation, or false when it
// must be read.
func (f *freshness) app(ref string) (cachedApp, bool) {
	if f.full || (f.event != nil && f.event.Ref() == ref) {
		return cachedApp{}, false
	}
	app, ok := f.cache.apps[ref]
	return app, ok
}

// unit returns the cached databag of a remote unit, or false when it must be
// read.
func (f *freshness) unit(ref, unit string) (map[string]string, bool) {
	if f.full || (f.event != nil && f.event.Ref() == ref && f.event.RemoteUnit == unit) {
		return nil, false
	}
	data, ok := f.cache.units[ref+":"+unit]
	return maps.Clone(data), ok
}

// cacheState returns the cache entries that describe what was observed:
// every read relation's application and, where unit data is read, every
// unit. Entries over Juju's quotas are left out (read in every hook).
func cacheState(endpoints []coordinator.Endpoint, relations map[string][]coordinator.Relation) map[string]string {
	out := map[string]string{}
	for _, ep := range endpoints {
		if !ep.ReadsData() {
			continue
		}
		for _, rel := range relations[ep.Name] {
			ref := rel.Ref()
			entry := cachedApp{App: rel.RemoteApp}
			if ep.AppData {
				entry.Data = rel.AppData
			}
			put(out, stateCacheApp+ref, entry)
			if !ep.UnitData {
				continue
			}
			for unit, data := range rel.Units {
				put(out, stateCacheUnit+ref+":"+unit, data)
			}
		}
	}
	return out
}

func put(out map[string]string, key string, v any) {
	raw, err := json.Marshal(v)
	if err != nil || len(key) > maxStateKey || len(raw) > maxStateValue {
		return
	}
	out[key] = string(raw)
}

// saveCache adds to newState the cache entries and the meta record of this
// hook's observation, and deletes the entries of units and relations that
// are gone. With full set the read time is renewed.
func (c *Charm) saveCache(ctx context.Context, o *observation, newState map[string]string) error {
	entries := cacheState(c.Product.Endpoints(), o.Relations)
	size := 0
	for k, v := range entries {
		size += len(k) + len(v)
	}
	if size > cacheBudget {
		c.logf("observation cache of %d bytes would exceed its budget of %d bytes: every hook reads every databag", size, cacheBudget)
		entries = map[string]string{}
	}
	for _, key := range slices.Sorted(maps.Keys(cacheEntries(o.state))) {
		if _, keep := entries[key]; !keep {
			if err := c.Juju.StateDelete(ctx, key); err != nil {
				return fmt.Errorf("cannot clean the observation cache: %w", err)
			}
		}
	}
	maps.Copy(newState, entries)
	digest, _ := digestOf(entries)
	// The read time schedules the periodic resync: it is renewed by that
	// resync and by a read that replaces an unusable cache, not by the
	// full reads of upgrade-charm or leader-elected, so that such a hook
	// repeated with nothing changed writes nothing.
	lastFull := o.cache.lastFull
	if o.fullRead == resyncReason || o.fullRead != "" && !o.cache.valid {
		lastFull = c.now()
	}
	newState[stateCacheMeta] = cacheFormat + " " + digest + " " + strconv.FormatInt(lastFull.Unix(), 10)
	return nil
}
