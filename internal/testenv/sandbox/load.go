package sandbox

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Load keeps GET requests flowing through the sandbox's network namespace
// until Stop, counting them: the evidence that nginx reloads drop nothing.
// A request succeeds when it answers 200.
type Load struct {
	requests, failures atomic.Int64
	mu                 sync.Mutex
	bodies             map[string]int64
	firstErrors        []string
	stop               chan struct{}
	wg                 sync.WaitGroup
}

// LoadResult is what a Load saw.
type LoadResult struct {
	Requests, Failures int64
	// Bodies counts successful responses by body (e.g. which backend answered).
	Bodies map[string]int64
	// FirstErrors describes up to five failures.
	FirstErrors []string
}

// StartLoad starts clients goroutines that GET url in a loop.
func (s *Sandbox) StartLoad(clients int, url string) *Load {
	hc := s.HTTPClient()
	hc.Timeout = 10 * time.Second
	return StartLoadWith(hc, clients, url)
}

// StartLoadWith is StartLoad with a client of the caller's (e.g. one that
// trusts a test CA, built on HTTPTransport).
func StartLoadWith(hc *http.Client, clients int, url string) *Load {
	l := &Load{bodies: map[string]int64{}, stop: make(chan struct{})}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.record(get(hc, url))
			}
		}()
	}
	return l
}

func get(hc *http.Client, url string) (int, string, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func (l *Load) record(code int, body string, err error) {
	l.requests.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || code != http.StatusOK {
		l.failures.Add(1)
		if len(l.firstErrors) < 5 {
			l.firstErrors = append(l.firstErrors, fmt.Sprintf("%d %q %v", code, body, err))
		}
		return
	}
	l.bodies[body]++
}

// WaitRequests blocks until n more requests have completed (a count, not
// a duration), or fails after timeout.
func (l *Load) WaitRequests(n int64, timeout time.Duration) error {
	target := l.requests.Load() + n
	deadline := time.Now().Add(timeout)
	for l.requests.Load() < target {
		if time.Now().After(deadline) {
			return fmt.Errorf("cannot see %d more requests within %s (%d so far)", n, timeout, l.requests.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Stop ends the load and returns what it saw.
func (l *Load) Stop() LoadResult {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return LoadResult{Requests: l.requests.Load(), Failures: l.failures.Load(), Bodies: l.bodies, FirstErrors: l.firstErrors}
}
