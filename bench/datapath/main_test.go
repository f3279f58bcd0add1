package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestLocalise(t *testing.T) {
	in := "server {\n    listen 4318;\n    listen 4317 http2;\n    proxy_pass http://otlp-http;\n}\n"
	want := "server {\n    listen 127.0.0.1:4318;\n    listen 127.0.0.1:4317 http2;\n    proxy_pass http://otlp-http;\n}\n"
	if got := string(localise([]byte(in))); got != want {
		t.Fatalf("localise:\n%s\nwant:\n%s", got, want)
	}
}

// TestLoadFiles: the ghz protoset describes the OTLP trace service, the
// marked body carries the marker once per span (the Lua script replaces
// each), and every script reads a file that exists.
func TestLoadFiles(t *testing.T) {
	b := &bench{work: t.TempDir()}
	body, err := proto.Marshal(traces(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) < 9<<10 || len(body) > 11<<10 {
		t.Errorf("request body is %d bytes, want about 10 KB", len(body))
	}
	if err := b.writeLoadFiles(body); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(b.work, "otlp.protoset"))
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := files.FindDescriptorByName("opentelemetry.proto.collector.trace.v1.TraceService.Export"); err != nil {
		t.Errorf("no Export method: %v", err)
	}
	marked, err := os.ReadFile(filepath.Join(b.work, "marked.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(marked, marker); n != spansPerReq {
		t.Errorf("marker found %d times in the marked body, want %d", n, spansPerReq)
	}
	for _, script := range []string{"post.lua", "traces.lua", "ingest.lua"} {
		lua, err := os.ReadFile(filepath.Join(b.work, script))
		if err != nil {
			t.Fatal(err)
		}
		start := strings.Index(string(lua), `io.open("`) + len(`io.open("`)
		path := string(lua)[start : start+strings.Index(string(lua)[start:], `"`)]
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s reads %s: %v", script, path, err)
		}
	}
}
