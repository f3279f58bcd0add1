package coordinator_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
	"github.com/tempo-coordinator/coordinator/internal/coordinator/tempo"
)

// s3With returns the default provider data with changes; an empty value
// deletes the key.
func s3With(changes map[string]string) coordinator.Relation {
	data := s3Data()
	for k, v := range changes {
		if v == "" {
			delete(data, k)
		} else {
			data[k] = v
		}
	}
	return s3Relation(3, data)
}

func TestParseS3Valid(t *testing.T) {
	const host = "minio-0.minio-endpoints.m.svc.cluster.local"
	chain2 := testCA + "\n\n" + strings.Replace(testCA, "TESTCA", "SECOND", 1)
	cases := []struct {
		name    string
		changes map[string]string
		want    coordinator.S3
	}{
		{"http with port", nil, coordinator.S3{Endpoint: host + ":9000", Insecure: true}},
		{"https default port stripped", map[string]string{"endpoint": "https://" + host + ":443"}, coordinator.S3{Endpoint: host}},
		{"http default port stripped", map[string]string{"endpoint": "http://" + host + ":80"}, coordinator.S3{Endpoint: host, Insecure: true}},
		{"https no port", map[string]string{"endpoint": "https://s3.amazonaws.com"}, coordinator.S3{Endpoint: "s3.amazonaws.com"}},
		{"https custom port", map[string]string{"endpoint": "https://" + host + ":9443"}, coordinator.S3{Endpoint: host + ":9443"}},
		{"trailing slash", map[string]string{"endpoint": "http://" + host + ":9000/"}, coordinator.S3{Endpoint: host + ":9000", Insecure: true}},
		{"upper-case scheme", map[string]string{"endpoint": "HTTPS://" + host}, coordinator.S3{Endpoint: host}},
		{"no scheme is insecure", map[string]string{"endpoint": host + ":9000"}, coordinator.S3{Endpoint: host + ":9000", Insecure: true}},
		{"no scheme default port", map[string]string{"endpoint": host + ":80"}, coordinator.S3{Endpoint: host, Insecure: true}},
		{"ipv4", map[string]string{"endpoint": "http://10.1.2.3:9000"}, coordinator.S3{Endpoint: "10.1.2.3:9000", Insecure: true}},
		{"ipv6 with port", map[string]string{"endpoint": "http://[fd00::1]:9000"}, coordinator.S3{Endpoint: "[fd00::1]:9000", Insecure: true}},
		{"ipv6 default http port", map[string]string{"endpoint": "http://[fd00::1]:80"}, coordinator.S3{Endpoint: "[fd00::1]", Insecure: true}},
		{"ipv6 default https port", map[string]string{"endpoint": "https://[fd00::1]:443"}, coordinator.S3{Endpoint: "[fd00::1]"}},
		{"ipv6 no scheme", map[string]string{"endpoint": "[fd00::1]:9000"}, coordinator.S3{Endpoint: "[fd00::1]:9000", Insecure: true}},
		{"http with CA chain is not insecure", map[string]string{"tls-ca-chain": `["` + strings.ReplaceAll(testCA, "\n", `\n`) + `"]`},
			coordinator.S3{Endpoint: host + ":9000", CAChain: testCA}},
		{"CA chain of two joined by a blank line", map[string]string{"endpoint": "https://" + host,
			"tls-ca-chain": jsList(testCA, strings.Replace(testCA, "TESTCA", "SECOND", 1))},
			coordinator.S3{Endpoint: host, CAChain: chain2}},
		{"CA chain as a JSON string", map[string]string{"tls-ca-chain": js(testCA)}, coordinator.S3{Endpoint: host + ":9000", CAChain: testCA}},
		{"CA chain raw PEM", map[string]string{"tls-ca-chain": testCA + "\n"}, coordinator.S3{Endpoint: host + ":9000", CAChain: testCA}},
		{"empty CA list", map[string]string{"tls-ca-chain": "[]"}, coordinator.S3{Endpoint: host + ":9000", Insecure: true}},
		{"path style", map[string]string{"s3-uri-style": "path"}, coordinator.S3{Endpoint: host + ":9000", Insecure: true, PathStyle: true}},
		{"path style JSON-encoded", map[string]string{"s3-uri-style": js("path")}, coordinator.S3{Endpoint: host + ":9000", Insecure: true, PathStyle: true}},
		{"host style", map[string]string{"s3-uri-style": "host"}, coordinator.S3{Endpoint: host + ":9000", Insecure: true}},
		{"region", map[string]string{"region": "eu-west-1"}, coordinator.S3{Endpoint: host + ":9000", Insecure: true, Region: "eu-west-1"}},
		{"JSON-encoded values", map[string]string{"endpoint": js("https://" + host), "bucket": js("tempo"),
			"access-key": js(testAccessKey), "secret-key": js(testSecretKey), "region": js("us-east-1")},
			coordinator.S3{Endpoint: host, Region: "us-east-1"}},
		{"values with spaces around", map[string]string{"bucket": " tempo ", "endpoint": " http://" + host + ":9000 "},
			coordinator.S3{Endpoint: host + ":9000", Insecure: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, reasons := coordinator.ParseS3(s3With(tc.changes))
			if got == nil {
				t.Fatalf("ParseS3 = nil, %q", reasons)
			}
			if reasons != nil {
				t.Errorf("reasons %q with a valid result", reasons)
			}
			want := tc.want
			want.Bucket, want.AccessKey, want.SecretKey = "tempo", testAccessKey, testSecretKey
			if *got != want {
				t.Errorf("ParseS3 =\n %+v\nwant\n %+v", *got, want)
			}
		})
	}
}

func jsList(items ...string) string {
	var parts []string
	for _, s := range items {
		parts = append(parts, js(s))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestParseS3Invalid(t *testing.T) {
	cases := []struct {
		name    string
		changes map[string]string
		want    []string // every reason, in order, or substrings when ending with "*"
	}{
		{"no data at all", map[string]string{"endpoint": "", "bucket": "", "access-key": "", "secret-key": ""},
			[]string{"missing endpoint", "missing bucket", "missing access-key", "missing secret-key"}},
		{"missing secret", map[string]string{"secret-key": ""}, []string{"missing secret-key"}},
		{"blank secret", map[string]string{"secret-key": "  "}, []string{"missing secret-key"}},
		{"JSON-encoded empty bucket", map[string]string{"bucket": `""`}, []string{"missing bucket"}},
		{"endpoint with a path", map[string]string{"endpoint": "http://minio:9000/tempo"}, []string{`invalid endpoint "http://minio:9000/tempo": want scheme://host[:port] with no path, query or credentials`}},
		{"endpoint with a query", map[string]string{"endpoint": "http://minio:9000?x=1"}, []string{"*with no path, query or credentials"}},
		{"endpoint with a fragment", map[string]string{"endpoint": "http://minio:9000#x"}, []string{"*with no path, query or credentials"}},
		{"endpoint with credentials", map[string]string{"endpoint": "https://" + testAccessKey + ":" + testSecretKey + "@minio:9000"},
			[]string{`invalid endpoint "https://<redacted>@minio:9000": want scheme://host[:port] with no path, query or credentials`}},
		{"endpoint garbage", map[string]string{"endpoint": "%%%"}, []string{`invalid endpoint "%%%": not a URL`}},
		{"endpoint ftp", map[string]string{"endpoint": "ftp://minio"}, []string{"*scheme must be http or https"}},
		{"endpoint bad port", map[string]string{"endpoint": "http://minio:99999"}, []string{`invalid endpoint "http://minio:99999": invalid port`}},
		{"endpoint port zero", map[string]string{"endpoint": "http://minio:0"}, []string{"*invalid port"}},
		{"endpoint non-numeric port", map[string]string{"endpoint": "minio:abc"}, []string{`invalid endpoint "minio:abc": not a URL`}},
		{"endpoint host with underscore", map[string]string{"endpoint": "http://mi_nio:9000"}, []string{"*not a DNS name or IP address"}},
		{"endpoint host with a brace", map[string]string{"endpoint": "http://minio}{:9000"}, []string{"*invalid endpoint"}},
		{"endpoint bare ipv6", map[string]string{"endpoint": "fd00::1"}, []string{"*not a DNS name or IP address"}},
		{"endpoint ipv6 zone", map[string]string{"endpoint": "http://[fe80::1%25eth0]:9000"}, []string{"*not a DNS name or IP address"}},
		{"endpoint with a newline", map[string]string{"endpoint": "http://minio\n:9000"}, []string{"*invalid endpoint"}},
		{"bad bucket", map[string]string{"bucket": "a b;c"}, []string{`invalid bucket name "a b;c"`}},
		{"short bucket", map[string]string{"bucket": "ab"}, []string{`invalid bucket name "ab"`}},
		{"bad region", map[string]string{"region": "eu west"}, []string{`invalid region "eu west"`}},
		{"bad uri style", map[string]string{"s3-uri-style": "virtual"}, []string{`invalid s3-uri-style "virtual": want host or path`}},
		{"CA garbage", map[string]string{"tls-ca-chain": "not a certificate"}, []string{"tls-ca-chain holds something that is not a PEM certificate"}},
		{"CA list with garbage", map[string]string{"tls-ca-chain": jsList(testCA, "garbage")}, []string{"tls-ca-chain holds something that is not a PEM certificate"}},
		{"CA list of numbers", map[string]string{"tls-ca-chain": "[1,2]"}, []string{"tls-ca-chain holds something that is not a PEM certificate"}},
		{"CA too long", map[string]string{"tls-ca-chain": strings.Repeat("A", 70*1024)}, []string{"tls-ca-chain is too long"}},
		{"huge endpoint", map[string]string{"endpoint": "http://" + strings.Repeat("a", 5000)}, []string{"endpoint is too long"}},
		{"control characters in keys", map[string]string{"access-key": "AK\x00", "secret-key": testSecretKey + "\n\x01"},
			[]string{"access-key or secret-key holds control characters or is not UTF-8"}},
		{"a secret key that is not UTF-8", map[string]string{"secret-key": testSecretKey + "\xfb"},
			[]string{"access-key or secret-key holds control characters or is not UTF-8"}},
		{"several problems at once", map[string]string{"bucket": "ab", "endpoint": "ftp://x", "s3-uri-style": "x"},
			[]string{`invalid bucket name "ab"`, "*scheme must be http or https", `invalid s3-uri-style "x": want host or path`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, reasons := coordinator.ParseS3(s3With(tc.changes))
			if got != nil {
				t.Fatalf("ParseS3 accepted invalid data: %+v", *got)
			}
			if len(reasons) != len(tc.want) {
				t.Fatalf("reasons %q, want %q", reasons, tc.want)
			}
			for i, w := range tc.want {
				if sub, ok := strings.CutPrefix(w, "*"); ok {
					if !strings.Contains(reasons[i], sub) {
						t.Errorf("reason %q does not contain %q", reasons[i], sub)
					}
				} else if reasons[i] != w {
					t.Errorf("reason %q, want %q", reasons[i], w)
				}
			}
		})
	}
}

// Whatever the provider publishes, the secret key reaches no reason, and no
// status or log line of Reconcile.
func TestParseS3NeverLeaksTheSecret(t *testing.T) {
	secret := testSecretKey
	hostile := []map[string]string{
		{"endpoint": "https://" + testAccessKey + ":" + secret + "@minio:9000"},
		{"endpoint": "https://" + secret + "@minio:9000"},
		{"endpoint": "https://user:" + secret + "@minio:9000/path?q#f"},
		{"endpoint": "http://" + secret + "/bucket"},
		{"endpoint": secret + ":0"},
		{"endpoint": "%" + secret},
		{"bucket": secret + "!"},
		{"region": "!" + secret},
		{"s3-uri-style": secret},
		{"tls-ca-chain": secret},
		{"secret-key": secret + "\x00"},
		{"secret-key": js(secret + "\x00")},
		{"secret-key": secret + strings.Repeat("x", 5000)},
		{"bucket": "", "endpoint": ""},
	}
	for i, changes := range hostile {
		rel := s3With(changes)
		got, reasons := coordinator.ParseS3(rel)
		if got != nil {
			t.Errorf("case %d: accepted %v", i, changes)
			continue
		}
		for _, r := range reasons {
			if strings.Contains(r, secret) {
				t.Errorf("case %d: reason leaks the secret key: %q", i, r)
			}
		}
		d := coordinator.Reconcile(tempo.Product(), observed([]coordinator.Relation{worker(1, "w", "all", 1)},
			map[string][]coordinator.Relation{coordinator.S3Endpoint: {rel}}))
		for _, line := range d.Logs {
			if strings.Contains(line, secret) {
				t.Errorf("case %d: log line leaks the secret key: %q", i, line)
			}
		}
		for _, s := range d.Statuses {
			if strings.Contains(s.Message, secret) {
				t.Errorf("case %d: status leaks the secret key: %q", i, s.Message)
			}
		}
		if d.WorkerConfig != nil {
			t.Errorf("case %d: worker config published with an unusable s3", i)
		}
		if !strings.Contains(strings.Join(d.Logs, "\n"), "s3 relation s3:3 not usable: ") {
			t.Errorf("case %d: no log line names the s3 problem: %q", i, d.Logs)
		}
	}
}

// ParseS3 does not modify the relation data it reads.
func TestParseS3DoesNotModifyInput(t *testing.T) {
	rel := s3With(map[string]string{"bucket": "ab"})
	before := maps.Clone(rel.AppData)
	coordinator.ParseS3(rel)
	if !maps.Equal(before, rel.AppData) {
		t.Errorf("ParseS3 changed the relation data")
	}
}

func TestS3Request(t *testing.T) {
	w := coordinator.S3Request(s3Relation(12, nil))
	if w.Endpoint != "s3" || w.RelationID != 12 || !w.App || len(w.Data) != 1 || w.Data["bucket"] != "relation-12" {
		t.Errorf("S3Request = %+v", w)
	}
}
