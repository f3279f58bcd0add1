package e2e

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// s3Port is where the S3 server listens on the hub's bridge address (a
// private namespace, so a fixed port cannot clash).
const s3Port = "9000"

// s3Server is an in-memory S3 (gofakes3) serving the workers from the hub
// namespace, path-style. It records the keys of the objects written, so
// tests can wait for blocks to reach the backend.
type s3Server struct {
	Endpoint  string // http://<hub>:9000
	Bucket    string
	AccessKey string
	SecretKey string

	backend *s3mem.Backend

	mu   sync.Mutex
	puts map[string]time.Time // "bucket/key" of every object written → last write
}

// newS3 starts the S3 server (without buckets: see createBucket) and stops
// it in t.Cleanup.
func newS3(t testing.TB, n *network) *s3Server {
	t.Helper()
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	s := &s3Server{
		backend:   backend,
		Endpoint:  "http://" + hubIP + ":" + s3Port,
		AccessKey: "e2e-access-key", SecretKey: "e2e-secret-key",
		puts: map[string]time.Time{},
	}
	inner := faker.Server()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			if key, err := url.PathUnescape(strings.TrimPrefix(r.URL.Path, "/")); err == nil {
				s.mu.Lock()
				s.puts[key] = time.Now()
				s.mu.Unlock()
			}
		}
		inner.ServeHTTP(w, r)
	})
	l, err := n.listen(hubIP + ":" + s3Port)
	if err != nil {
		t.Fatalf("s3 listen: %v", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
	})
	return s
}

// createBucket creates the bucket the coordinator asked for, as the
// s3-integrator would, and makes it the one published.
func (s *s3Server) createBucket(name string) error {
	if err := s.backend.CreateBucket(name); err != nil {
		return err
	}
	s.Bucket = name
	return nil
}

// written returns the keys written so far ("bucket/key"), sorted, that
// contain substr.
func (s *s3Server) written(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.puts {
		if strings.Contains(k, substr) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// writtenSince reports whether an object whose key contains substr was
// written at or after t.
func (s *s3Server) writtenSince(substr string, t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, at := range s.puts {
		if strings.Contains(k, substr) && !at.Before(t) {
			return true
		}
	}
	return false
}

// lastWrite is the time of the latest write of an object whose key
// contains substr (zero if none).
func (s *s3Server) lastWrite(substr string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last time.Time
	for k, at := range s.puts {
		if strings.Contains(k, substr) && at.After(last) {
			last = at
		}
	}
	return last
}

// providerData is the s3-integrator's application databag for this server.
func (s *s3Server) providerData() map[string]string {
	return map[string]string{
		"endpoint":     s.Endpoint,
		"bucket":       s.Bucket,
		"access-key":   s.AccessKey,
		"secret-key":   s.SecretKey,
		"s3-uri-style": "path",
	}
}
