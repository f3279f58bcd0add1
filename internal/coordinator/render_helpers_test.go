package coordinator

import (
	"reflect"
	"testing"
)

func TestReplicationFactor(t *testing.T) {
	for members, want := range map[int]int{0: 1, 1: 1, 2: 1, 3: 3, 4: 3, 10: 3} {
		if got := ReplicationFactor(members); got != want {
			t.Errorf("ReplicationFactor(%d) = %d, want %d", members, got, want)
		}
	}
}

func TestJoinMembers(t *testing.T) {
	got := JoinMembers([]string{"a.example", "10.0.0.1", "fd00::1"}, 7946)
	want := []string{"a.example:7946", "10.0.0.1:7946", "[fd00::1]:7946"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JoinMembers = %v, want %v", got, want)
	}
	if got := JoinMembers(nil, 1); got == nil || len(got) != 0 {
		t.Errorf("JoinMembers(nil) = %#v, want an empty list (rendered [])", got)
	}
}

func TestMemberlistRingIsFresh(t *testing.T) {
	a := MemberlistRing()
	a["replication_factor"] = 3
	if b := MemberlistRing(); len(b) != 1 || !reflect.DeepEqual(b["kvstore"], map[string]any{"store": "memberlist"}) {
		t.Errorf("MemberlistRing = %v: callers' changes leak", b)
	}
}

func TestRenderYAMLSortedAndIndented(t *testing.T) {
	out, err := RenderYAML(map[string]any{"b": map[string]any{"z": 1, "a": []string{"x"}}, "a": true})
	want := "a: true\nb:\n  a:\n    - x\n  z: 1\n"
	if err != nil || string(out) != want {
		t.Errorf("RenderYAML = %q, %v; want %q", out, err, want)
	}
}

func TestEncodeJSON(t *testing.T) {
	got, err := EncodeJSON(map[string]any{"u": "http://h/?a=1&b=<2>", "k": true})
	if want := `{"k":true,"u":"http://h/?a=1&b=<2>"}`; err != nil || got != want {
		t.Errorf("EncodeJSON = %s, %v; want %s", got, err, want)
	}
	if _, err := EncodeJSON(make(chan int)); err == nil {
		t.Error("EncodeJSON accepted a channel")
	}
}

func TestPublicAddressIngressPathAndExternalHTTPURL(t *testing.T) {
	for _, tc := range []struct {
		external     string
		tls          bool
		scheme, host string
		path         string
		httpURL      string
	}{
		{"", false, "http", "app.m.svc", "", "http://app.m.svc:8080"},
		{"", true, "https", "app.m.svc", "", "https://app.m.svc:8080"},
		{"https://ext.example/m-app", false, "https", "ext.example", "/m-app", "https://ext.example/m-app"},
		{"http://ext.example:8080/", true, "http", "ext.example", "", "http://ext.example:8080"},
		{"http://[fd00::1]/p/q", false, "http", "fd00::1", "/p/q", "http://[fd00::1]/p/q"},
		{"ftp://ext.example/x", false, "http", "app.m.svc", "", "http://app.m.svc:8080"},
		{"http://bad_host/x", true, "https", "app.m.svc", "", "https://app.m.svc:8080"},
		{"::not a url", false, "http", "app.m.svc", "", "http://app.m.svc:8080"},
	} {
		in := &RenderInput{ExternalURL: tc.external, AppFQDN: "app.m.svc"}
		if tc.tls {
			in.TLS = &TLS{}
		}
		if s, h := PublicAddress(in); s != tc.scheme || h != tc.host {
			t.Errorf("PublicAddress(%q, tls=%v) = %s, %s; want %s, %s", tc.external, tc.tls, s, h, tc.scheme, tc.host)
		}
		if p := IngressPath(in); p != tc.path {
			t.Errorf("IngressPath(%q) = %q, want %q", tc.external, p, tc.path)
		}
		if u := ExternalHTTPURL(in, 8080); u != tc.httpURL {
			t.Errorf("ExternalHTTPURL(%q, tls=%v) = %q, want %q", tc.external, tc.tls, u, tc.httpURL)
		}
	}
	if u := ExternalHTTPURL(&RenderInput{}, 8080); u != "" {
		t.Errorf("ExternalHTTPURL without any address = %q", u)
	}
	if u := ExternalHTTPURL(nil, 8080); u != "" {
		t.Errorf("ExternalHTTPURL(nil) = %q", u)
	}
	if s, h := PublicAddress(nil); s != "" || h != "" {
		t.Errorf("PublicAddress(nil) = %q, %q", s, h)
	}
	if p := IngressPath(nil); p != "" {
		t.Errorf("IngressPath(nil) = %q", p)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 40, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc..."},
		// "é" is two bytes: a cut in its middle moves before it.
		{"abé", 3, "ab..."},
		{"ééé", 5, "éé..."},
		{"日本語", 4, "日..."},
		{"日本語", 2, "..."},
	} {
		if got := Truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
