package charm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/juju"
)

// observation is what one hook read, plus the handles needed to apply.
type observation struct {
	*coordinator.Observed
	state map[string]string
	nginx Container
	// nginxErr explains why nginx is unknown (nil when it is known).
	nginxErr error
	// facts is the nginx facts record to store, when it changed.
	facts string
	// cache is the observation cache found at the hook's start; fullRead
	// says why every databag was read ("" when the cache was used).
	cache    *obsCache
	fullRead string
}

// stateNginxFacts keeps nginx's facts for the container's boot, so that
// `nginx -v` runs once per boot, not once per hook.
const stateNginxFacts = "nginx-facts"

type factsRecord struct {
	BootID string                 `json:"boot-id"`
	Facts  coordinator.NginxFacts `json:"facts"`
}

func (c *Charm) observe(ctx context.Context, hc *juju.Context) (*observation, error) {
	o := &observation{Observed: &coordinator.Observed{
		Model: hc.Model, ModelUUID: hc.ModelUUID, App: hc.App, Unit: hc.Unit,
		Relations: map[string][]coordinator.Relation{},
	}}
	var err error
	if o.Leader, err = c.Juju.IsLeader(ctx); err != nil {
		return nil, fmt.Errorf("cannot read leadership: %w", err)
	}
	if o.Config, err = c.Juju.ConfigGet(ctx); err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	if o.state, err = c.Juju.StateGet(ctx); err != nil {
		return nil, fmt.Errorf("cannot read charm state: %w", err)
	}
	o.cache = loadCache(o.state)
	o.fullRead = c.fullReadReason(hc, o.cache, o.Config)
	if o.cache.reason != "" {
		c.logf("reading every databag: %s", o.cache.reason)
	}
	fresh := &freshness{full: o.fullRead != "", cache: o.cache, event: hc.Relation}
	if err := c.observeRelations(ctx, hc, o.Observed, fresh); err != nil {
		return nil, err
	}
	domain := "cluster.local"
	if c.ResolvConf != nil {
		if conf, err := c.ResolvConf(); err == nil {
			domain = clusterDomain(conf)
		} else {
			c.logf("cannot read resolv.conf, assuming the cluster domain %s: %v", domain, err)
		}
	}
	o.AppFQDN, o.UnitFQDN = fqdns(hc, domain)
	o.Now = c.now()
	if err := c.observeTLS(ctx, o); err != nil {
		return nil, err
	}
	if c.Assets != nil && coordinator.AssetsNeeded(o.Observed) {
		// A missing or unreadable asset is the charm's own defect: say so
		// and publish what can be built without it.
		if o.Assets, err = c.Assets(); err != nil {
			c.logf("cannot read the charm's assets: %v", err)
		}
		if raw := o.state[stateDashboardCache]; raw != "" {
			_ = json.Unmarshal([]byte(raw), &o.DashboardCache) // a bad cache is only a miss
		}
	}
	c.observeNginx(ctx, o)
	return o, nil
}

// observeRelations reads every relation of the endpoints the product cares
// about. goal-state (one call) tells which endpoints have relations, so
// the others cost nothing; it never lists the peer relation, which is
// always looked up. Membership (relation-ids, relation-list) is read in
// every hook; databags come from the cache where fresh allows it.
func (c *Charm) observeRelations(ctx context.Context, hc *juju.Context, o *coordinator.Observed, fresh *freshness) error {
	var present map[string]bool
	if goal, err := c.Juju.GoalState(ctx); err == nil {
		present = map[string]bool{}
		for endpoint, entries := range goal.Relations {
			present[endpoint] = len(entries) > 0
		}
	} else {
		c.logf("goal-state failed, looking up every endpoint's relations: %v", err)
	}
	// Without goal-state every endpoint counts as related.
	related := func(endpoint string) bool { return present == nil || present[endpoint] }
	for _, ep := range c.Product.Endpoints() {
		if !ep.Peer && !related(ep.Name) {
			continue
		}
		ep = ep.In(o.Leader, related)
		ids, err := c.Juju.RelationIDs(ctx, ep.Name)
		if err != nil {
			return fmt.Errorf("cannot list %s relations: %w", ep.Name, err)
		}
		for _, id := range ids {
			if hc.Relation != nil && hc.Name == ep.Name+"-relation-broken" && hc.Relation.ID == id {
				continue // going away: it no longer counts
			}
			rel, err := c.readRelation(ctx, ep, id, fresh)
			if juju.IsRelationNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			o.Relations[ep.Name] = append(o.Relations[ep.Name], rel)
		}
	}
	return nil
}

func (c *Charm) readRelation(ctx context.Context, ep coordinator.Endpoint, id int, fresh *freshness) (coordinator.Relation, error) {
	ref := coordinator.RelationRef(ep.Name, id)
	rel := coordinator.Relation{ID: id, Endpoint: ep.Name, Units: map[string]map[string]string{}}
	if !ep.ReadsData() {
		// Nothing to read (the peer relation: the charm only writes its
		// own unit's databag there), so the units need not be listed.
		return rel, nil
	}
	units, err := c.Juju.RelationList(ctx, ref)
	if err != nil {
		return rel, fmt.Errorf("cannot list units of %s: %w", ref, err)
	}
	cached, fromCache := fresh.app(ref)
	switch {
	case fromCache:
		rel.RemoteApp = cached.App
		if ep.AppData {
			rel.AppData = maps.Clone(cached.Data)
			if rel.AppData == nil {
				rel.AppData = map[string]string{}
			}
		}
	case len(units) > 0:
		rel.RemoteApp, _ = juju.AppOfUnit(units[0])
	}
	if ep.AppData && !fromCache {
		if rel.RemoteApp == "" {
			if rel.RemoteApp, err = c.Juju.RelationApp(ctx, ref); err != nil {
				return rel, fmt.Errorf("cannot find the application of %s: %w", ref, err)
			}
		}
		if rel.AppData, err = c.Juju.RelationGet(ctx, ref, rel.RemoteApp, true); err != nil {
			return rel, fmt.Errorf("cannot read %s application data of %s: %w", ref, rel.RemoteApp, err)
		}
	}
	for _, unit := range units {
		data := map[string]string{}
		if ep.UnitData {
			var ok bool
			if data, ok = fresh.unit(ref, unit); !ok {
				if data, err = c.Juju.RelationGet(ctx, ref, unit, false); err != nil {
					return rel, fmt.Errorf("cannot read %s unit data of %s: %w", ref, unit, err)
				}
			}
		}
		rel.Units[unit] = data
	}
	return rel, nil
}

// observeNginx connects to the nginx container and learns its facts, once
// per container boot.
func (c *Charm) observeNginx(ctx context.Context, o *observation) {
	if c.Connect == nil {
		o.nginxErr = ErrNotReady
		return
	}
	ctr, err := c.Connect(NginxContainer)
	if err != nil {
		o.nginxErr = err
		return
	}
	var rec factsRecord
	if raw := o.state[stateNginxFacts]; raw != "" && json.Unmarshal([]byte(raw), &rec) == nil && rec.BootID == ctr.BootID() {
		facts := rec.Facts
		o.Nginx, o.nginx = &facts, ctr
		return
	}
	facts, err := ctr.NginxFacts(ctx)
	if err != nil {
		o.nginxErr = fmt.Errorf("cannot inspect nginx: %w", err)
		return
	}
	o.Nginx, o.nginx = &facts, ctr
	raw, _ := json.Marshal(factsRecord{BootID: ctr.BootID(), Facts: facts})
	o.facts = string(raw)
}

// notReady tells a container that is not up yet from a real failure.
func notReady(err error) bool { return errors.Is(err, ErrNotReady) }
