package parcastore_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/pkg/parcastore"
)

// The provider examples of the library's documentation (seed 004), with
// the databag the Python provider writes for each.
func TestProviderSeedExamples(t *testing.T) {
	for _, c := range []struct {
		name     string
		provider parcastore.Provider
		want     map[string]string
	}{{
		// ParcaStoreEndpointProvider(charm=self, port=7070, insecure=True):
		// the unit's bind IP, no TLS.
		"port and insecure",
		parcastore.Provider{BindAddress: "10.1.64.7", FQDN: "parca-k8s-0.parca-k8s-endpoints.cos.svc.cluster.local", Port: 7070, Insecure: true},
		map[string]string{"remote-store-address": "10.1.64.7:7070", "remote-store-bearer-token": "", "remote-store-insecure": "true"},
	}, {
		// ParcaStoreEndpointProvider(charm=self, external_url=self._external_url(), port=443, insecure=False)
		"external url",
		parcastore.Provider{ExternalAddress: "parca.example.com:443", BindAddress: "10.1.64.7", Port: 443},
		map[string]string{"remote-store-address": "parca.example.com:443", "remote-store-bearer-token": "", "remote-store-insecure": "false"},
	}, {
		// ParcaStoreEndpointProvider(charm=self, token_generator=self._bearer_token_generator):
		// default port 7070, TLS; the bind address is no IP, so the FQDN.
		"token generator",
		parcastore.Provider{BindAddress: "", FQDN: "parca-k8s-0.parca-k8s-endpoints.cos.svc.cluster.local",
			Token: func(id int) (string, error) { return "token-for-relation-" + string(rune('0'+id)), nil }},
		map[string]string{"remote-store-address": "parca-k8s-0.parca-k8s-endpoints.cos.svc.cluster.local:7070",
			"remote-store-bearer-token": "token-for-relation-5", "remote-store-insecure": "false"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.provider.AppData(true, []int{5})
			if err != nil || len(got) != 1 || !maps.Equal(got[5], c.want) {
				t.Errorf("got %v %v, want %v", got, err, c.want)
			}
		})
	}
}

// A token per relation; a non-leader writes nothing (the Python library
// writes from every unit, and Juju refuses app data from non-leaders).
func TestProviderPerRelationAndLeaderOnly(t *testing.T) {
	p := parcastore.Provider{BindAddress: "fd00::7", Port: 7993, Insecure: true,
		Token: func(id int) (string, error) { return strings.Repeat("t", id), nil }}
	got, err := p.AppData(true, []int{1, 3})
	if err != nil || got[1]["remote-store-bearer-token"] != "t" || got[3]["remote-store-bearer-token"] != "ttt" ||
		got[3]["remote-store-address"] != "[fd00::7]:7993" {
		t.Errorf("%v %v", got, err)
	}
	if got, err := p.AppData(false, []int{1, 3}); got != nil || err != nil {
		t.Errorf("non-leader: %v %v", got, err)
	}
}

func TestProviderErrors(t *testing.T) {
	for name, p := range map[string]parcastore.Provider{
		"scheme in external address": {ExternalAddress: "grpcs://parca.example.com:443"},
		"external address no port":   {ExternalAddress: "parca.example.com"},
		"no host":                    {Port: 7070},
		"token with newline":         {FQDN: "p", Token: func(int) (string, error) { return "a\nb", nil }},
		"token error":                {FQDN: "p", Token: func(int) (string, error) { return "", errors.New("no secret") }},
	} {
		if _, err := p.AppData(true, []int{2}); err == nil || !strings.Contains(err.Error(), "relation 2") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// The requirer side of seed 004: endpoints_changed carries the three keys,
// remove_store (no relation any more) drops the store.
func TestRequirerStore(t *testing.T) {
	data := map[string]string{"remote-store-address": "parca-k8s-0.parca-k8s-endpoints.cos.svc.cluster.local:7993",
		"remote-store-bearer-token": "abc", "remote-store-insecure": "true"}
	s, ok, err := parcastore.RequirerStore([]map[string]string{data})
	if err != nil || !ok || s != (parcastore.Store{Address: data["remote-store-address"], BearerToken: "abc", Insecure: true}) {
		t.Errorf("%+v %v %v", s, ok, err)
	}
	if !maps.Equal(s.AppData(), data) {
		t.Errorf("round trip %v", s.AppData())
	}
	// Store removed, or not published yet.
	for name, rels := range map[string][]map[string]string{"removed": nil, "not yet": {{}}, "no address": {{"remote-store-insecure": "true"}}} {
		if s, ok, err := parcastore.RequirerStore(rels); ok || err != nil || s != (parcastore.Store{}) {
			t.Errorf("%s: %+v %v %v", name, s, ok, err)
		}
	}
	// Without the insecure key: TLS.
	if s, ok, err := parcastore.RequirerStore([]map[string]string{{"remote-store-address": "p:7070"}}); !ok || err != nil || s.Insecure {
		t.Errorf("%+v %v %v", s, ok, err)
	}
}

func TestRequirerStoreErrors(t *testing.T) {
	for name, rels := range map[string][]map[string]string{
		"two stores":      {{"remote-store-address": "a:1"}, {"remote-store-address": "b:1"}},
		"scheme":          {{"remote-store-address": "https://a:1"}},
		"no port":         {{"remote-store-address": "a"}},
		"port 0":          {{"remote-store-address": "a:0"}},
		"insecure True":   {{"remote-store-address": "a:1", "remote-store-insecure": "True"}},
		"insecure yes":    {{"remote-store-address": "a:1", "remote-store-insecure": "yes"}},
		"token with tab":  {{"remote-store-address": "a:1", "remote-store-bearer-token": "a\tb"}},
		"host with space": {{"remote-store-address": "a b:1"}},
	} {
		if _, ok, err := parcastore.RequirerStore(rels); ok || err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzRequirerStore(f *testing.F) {
	f.Add("parca-k8s-0.parca-k8s-endpoints.cos.svc.cluster.local:7993", "abc", "true")
	f.Add("[fd00::1]:7070", "", "false")
	f.Add("https://x:1", "a b", "True")
	f.Fuzz(func(t *testing.T, address, token, insecure string) {
		data := map[string]string{"remote-store-address": address, "remote-store-bearer-token": token, "remote-store-insecure": insecure}
		s, ok, err := parcastore.RequirerStore([]map[string]string{data})
		if err != nil || !ok {
			return
		}
		// What a requirer accepts, a provider can publish again.
		again, ok, err := parcastore.RequirerStore([]map[string]string{s.AppData()})
		if err != nil || !ok || again != s {
			t.Fatalf("%+v does not round-trip: %+v %v", s, again, err)
		}
	})
}
