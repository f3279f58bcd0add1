package props

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tempo-coordinator/coordinator/internal/testenv/testcert"
)

// upstreamServerRE matches an upstream server line of nginx.conf.
var upstreamServerRE = regexp.MustCompile(`(?m)^(\s*server )\S+:(\d+)( resolve)?;$`)

// NginxT runs nginx (bin) -t on a rendered nginx.conf in dir: the syntax and
// every directive as Debian's nginx reads them. Upstream servers are pointed
// at 127.0.0.1 (CheckNginx checks the names; nginx would have to resolve
// them), the pid file goes to dir, the TLS files are left out (listeners
// keep their other parameters) and the CA of the workers' verification is a
// certificate made in dir. It returns nginx's complaint.
func NginxT(bin, dir string, conf []byte) error {
	text := upstreamServerRE.ReplaceAllString(string(conf), "${1}127.0.0.1:${2};")
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "pid "):
			fmt.Fprintf(&b, "pid %s;\n", filepath.Join(dir, "nginx.pid"))
		case strings.HasPrefix(trimmed, "ssl_certificate"):
			// The TLS files are not here; the syntax is what is tested.
		case strings.Contains(trimmed, "_ssl_trusted_certificate "):
			// verify on needs a CA file nginx can load: any certificate.
			ca := filepath.Join(dir, "ca.crt")
			if _, err := os.Stat(ca); err != nil {
				cert, _, _, err := testcert.Generate("localhost")
				if err != nil {
					return err
				}
				if err := os.WriteFile(ca, cert, 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(&b, "%s %s;\n", strings.Fields(trimmed)[0], ca)
		case strings.HasPrefix(trimmed, "listen ") && strings.Contains(trimmed, " ssl"):
			b.WriteString(strings.Replace(line, " ssl", "", 1))
		default:
			b.WriteString(line)
		}
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command(bin, "-t", "-q", "-p", dir, "-c", path).CombinedOutput(); err != nil {
		return fmt.Errorf("nginx -t rejects the rendered config: %v\n%s", err, out)
	}
	return nil
}
