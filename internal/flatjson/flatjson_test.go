package flatjson

import (
	"encoding/json"
	"reflect"
	"testing"
)

// seeds are documents of every shape, good and bad, for the tests and as
// the fuzzers' corpus.
var seeds = []string{
	`"plain"`, ` "padded" `, `""`, `"esc \" \\ \/ \b \f \n \r \t end"`, `"\u00e9"`, `"\ud83d\ude00"`, `"\ud83d"`,
	`"ünïcödé"`, "\"bad \xff utf8\"", "\"ctl \x01\"", `"unterminated`, `"bad \x escape"`, `"trailing" x`, `null`,
	`[]`, ` [ "a" , "b" ] `, `["a",]`, `["a" "b"]`, `[1]`, `["a"]]`, `[`, `[null]`,
	`{}`, `{"a":"1","b":"2"}`, ` { "a" : "x" , "a" : "y" } `, `{"a":1}`, `{"a":"1",}`, `{"a" "1"}`, `{"a":"1"`,
	`{"address":"\"tempo-worker-0-0.tempo-worker-0-endpoints.bench.svc.cluster.local\"","juju_topology":"{\"model\": \"bench\", \"unit\": \"w/0\"}"}`,
	`{"k":"\u003chtml\u003e"}`, `{"k":null}`, `{"k":["x"]}`, `{1:"x"}`, "{\"k\":\"v\"}\n", "\t{\"k\":\"v\"}\r\n",
}

func FuzzString(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, ok := String(doc)
		var want string
		err := json.Unmarshal(doc, &want)
		if ok && (err != nil || got != want) {
			t.Fatalf("String(%q) = %q, encoding/json: %q, %v", doc, got, want, err)
		}
	})
}

func FuzzStrings(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, ok := Strings(doc)
		var want []string
		err := json.Unmarshal(doc, &want)
		if ok && (err != nil || !reflect.DeepEqual(got, want)) {
			t.Fatalf("Strings(%q) = %#v, encoding/json: %#v, %v", doc, got, want, err)
		}
	})
}

func FuzzStringMap(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, ok := StringMap(doc)
		var want map[string]string
		err := json.Unmarshal(doc, &want)
		if ok && (err != nil || !reflect.DeepEqual(got, want)) {
			t.Fatalf("StringMap(%q) = %#v, encoding/json: %#v, %v", doc, got, want, err)
		}
	})
}

// TestCommonCasesTakeTheFastPath checks that the documents hooks read
// most are decoded here, not handed back to encoding/json.
func TestCommonCasesTakeTheFastPath(t *testing.T) {
	if s, ok := String([]byte(` "esc \" \\ \/ \b \f \n \r \t ünï" `)); !ok || s != "esc \" \\ / \b \f \n \r \t ünï" {
		t.Errorf("String: %q, %v", s, ok)
	}
	if l, ok := Strings([]byte(`["tempo-cluster:3", "s3:4"]`)); !ok || !reflect.DeepEqual(l, []string{"tempo-cluster:3", "s3:4"}) {
		t.Errorf("Strings: %q, %v", l, ok)
	}
	if l, ok := Strings([]byte(`[]`)); !ok || l == nil || len(l) != 0 {
		t.Errorf("Strings([]): %#v, %v; want an empty, non-nil slice as encoding/json gives", l, ok)
	}
	m, ok := StringMap([]byte(`{"address":"\"w-0.svc\"","juju_topology":"{\"unit\": \"w/0\"}","a":"x","a":"y"}`))
	if want := map[string]string{"address": `"w-0.svc"`, "juju_topology": `{"unit": "w/0"}`, "a": "y"}; !ok || !reflect.DeepEqual(m, want) {
		t.Errorf("StringMap: %q, %v; want %q", m, ok, want)
	}
}

// TestOutsideTheFastPath checks that every document the fast path does
// not handle is handed back (ok=false), including valid JSON that needs
// encoding/json's rules (\u escapes, invalid UTF-8 replacement, null).
func TestOutsideTheFastPath(t *testing.T) {
	for _, doc := range []string{`"\u00e9"`, "\"bad \xff\"", `null`, `"a" "b"`, `"ctl` + "\x01" + `"`, `"\q"`} {
		if s, ok := String([]byte(doc)); ok {
			t.Errorf("String(%q) = %q, want not ok", doc, s)
		}
	}
	for _, doc := range []string{`null`, `[1]`, `["a",]`, `["a"]]`, `[null]`, `["\u0041"]`} {
		if l, ok := Strings([]byte(doc)); ok {
			t.Errorf("Strings(%q) = %q, want not ok", doc, l)
		}
	}
	for _, doc := range []string{`null`, `{"a":1}`, `{"a":null}`, `{"a":"1",}`, `{"a":"1"`, `{"a":"1"} {}`, `{"\u0061":"x"}`} {
		if m, ok := StringMap([]byte(doc)); ok {
			t.Errorf("StringMap(%q) = %q, want not ok", doc, m)
		}
	}
}

func BenchmarkStringMap(b *testing.B) {
	doc := []byte(seeds[29])
	b.Run("flatjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := StringMap(doc); !ok {
				b.Fatal("not ok")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]string
			if err := json.Unmarshal(doc, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
